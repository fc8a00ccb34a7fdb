"""A fast path for the simplest ``construct`` layouts, with ``construct`` as the authority.

Why: a command's data is parsed on the card and built on the host for every APDU, and
``construct``'s general machinery (streams, contexts, containers) costs tens of
microseconds per layout where slicing bytes costs one or two. Most layouts of the specs
are flat: a ``Struct`` of fixed-length bytes, big-endian unsigned integers, one-byte
length-prefixed bytes (:data:`~.layouts.LV`), constants, a greedy tail, and at most a
``GreedyRange`` of such flat items (PUT KEY's key components). A
:class:`~.variants.Variants` of such layouts (INITIALIZE UPDATE's answer per SCP) gets
the fast path of each variant, chosen by the same key.

Theory of operation: :func:`fast_layout` reads a layout's ``construct`` tree once and
returns a :class:`FastLayout` when every piece is one of those, else ``None``. A
:class:`FastLayout` only ever answers what ``construct`` answers for the same input: when
the input fits the layout exactly as written it returns the same fields (or bytes);
for anything else — a short field, a wrong constant, a value of another type, a number
out of range — it returns ``None``, and the caller runs ``construct`` itself, which
raises its usual error. The fast path never accepts what ``construct`` would refuse.
"""

from __future__ import annotations

from typing import Any

from construct import (
    Bytes,
    BytesInteger,
    Const,
    Construct,
    ConstructError,
    FormatField,
    GreedyRange,
    Prefixed,
    Renamed,
    Struct,
)
from construct.core import GreedyBytes

from ..caches import pure_cache
from .variants import Variants

__all__ = ["FastLayout", "FastVariants", "fast_layout"]

# field kinds
_FIXED, _GREEDY, _UINT, _LV, _CONST, _RANGE = range(6)
_UINT_FORMATS = {">B": 1, ">H": 2, ">L": 4, ">Q": 8}

#: (kind, name, argument): the argument is a length, a constant, or a range's item
Field = tuple[int, str | None, Any]
#: a range's item: the fields of a flat Struct, or one unnamed field
Item = tuple[bool, tuple[Field, ...]]


def _unwrap(con: Construct) -> Construct | None:
    inner = con
    while isinstance(inner, Renamed):
        if inner.parsed is not None:
            return None
        inner = inner.subcon
    if getattr(inner, "parsed", None) is not None:
        return None
    return inner


def _plain_field(con: Construct, name: str | None, *, nested: bool) -> Field | None:
    """The (kind, name, argument) of one piece, or None if it is not a flat kind."""
    inner = _unwrap(con)
    if inner is None:
        return None
    if inner is GreedyBytes:
        return None if nested else (_GREEDY, name, None)
    if type(inner) is Bytes and type(inner.length) is int and inner.length >= 0:
        return (_FIXED, name, inner.length)
    if type(inner) is FormatField and inner.fmtstr in _UINT_FORMATS:
        return (_UINT, name, _UINT_FORMATS[inner.fmtstr])
    if (type(inner) is BytesInteger and type(inner.length) is int and inner.length > 0
            and inner.signed is False and inner.swapped is False):
        return (_UINT, name, inner.length)
    if (type(inner) is Prefixed and inner.subcon is GreedyBytes and not inner.includelength
            and type(inner.lengthfield) is FormatField and inner.lengthfield.fmtstr == ">B"):
        return (_LV, name, None)
    if (type(inner) is Const and name is None and type(inner.value) is bytes
            and type(inner.subcon) is Bytes and inner.subcon.length == len(inner.value)):
        return (_CONST, None, inner.value)
    if type(inner) is GreedyRange and not nested and not inner.discard:
        item = _range_item(inner.subcon)
        return None if item is None else (_RANGE, name, item)
    return None


def _consumes(field: Field) -> bool:
    """Does the field always take at least one byte (so a range of it ends)?"""
    kind, _, arg = field
    if kind in (_UINT, _LV):
        return True
    if kind == _FIXED:
        return bool(arg > 0)
    return kind == _CONST and len(arg) > 0


def _range_item(con: Construct) -> Item | None:
    inner = _unwrap(con)
    if inner is None:
        return None
    if type(inner) is Struct:
        fields = _struct_fields(inner, nested=True)
        if fields is None or not any(_consumes(f) for f in fields):
            return None
        return (True, fields)
    field = _plain_field(inner, None, nested=True)
    if field is None or field[0] == _CONST or not _consumes(field):
        return None
    return (False, (field,))


def _struct_fields(con: Struct, *, nested: bool) -> tuple[Field, ...] | None:
    fields = []
    for sub in con.subcons:
        name = sub.name
        if name is not None and (not isinstance(name, str) or name.startswith("_")):
            return None
        field = _plain_field(sub, name, nested=nested)
        if field is None or (field[0] == _CONST) != (name is None):
            return None
        fields.append(field)
    names = [name for _, name, _ in fields if name is not None]
    if len(names) != len(set(names)):
        return None
    return tuple(fields)


def _parse_value(kind: int, arg: Any, data: bytes, pos: int, n: int) -> tuple[Any, int] | None:
    """One field's value and the position after it, or None if it does not fit."""
    if kind == _FIXED:
        end = pos + arg
        return None if end > n else (data[pos:end], end)
    if kind == _UINT:
        end = pos + arg
        return None if end > n else (int.from_bytes(data[pos:end], "big"), end)
    if kind == _GREEDY:
        return data[pos:], n
    if kind == _LV:
        if pos >= n:
            return None
        end = pos + 1 + data[pos]
        return None if end > n else (data[pos + 1:end], end)
    if kind == _CONST:
        end = pos + len(arg)
        return None if data[pos:end] != arg else (None, end)
    items: list[Any] = []  # _RANGE: as many whole items as fit, as GreedyRange does
    while True:
        got = _parse_item(arg, data, pos, n)
        if got is None:
            return items, pos
        value, pos = got
        items.append(value)


def _parse_item(item: Item, data: bytes, pos: int, n: int) -> tuple[Any, int] | None:
    is_struct, fields = item
    if not is_struct:
        kind, _, arg = fields[0]
        return _parse_value(kind, arg, data, pos, n)
    return _parse_fields(fields, data, pos, n)


def _parse_fields(fields: tuple[Field, ...], data: bytes, pos: int,
                  n: int) -> tuple[dict[str, Any], int] | None:
    """The fields at ``pos`` and the position after them, or None if they do not fit.

    What :func:`_parse_value` does per field, inlined for fixed-length bytes and integers
    (every parsed command and answer goes through here once per field).
    """
    out: dict[str, Any] = {}
    for kind, name, arg in fields:
        if kind in (_FIXED, _UINT):
            end = pos + arg
            if end > n:
                return None
            value: Any = data[pos:end] if kind == _FIXED else int.from_bytes(data[pos:end], "big")
            pos = end
        else:
            got = _parse_value(kind, arg, data, pos, n)
            if got is None:
                return None
            value, pos = got
        if name is not None:
            out[name] = value
    return out, pos


def _build_value(kind: int, arg: Any, value: Any, parts: list[bytes]) -> bool:
    """Append one field's bytes; False when construct must decide."""
    if kind == _UINT:
        if type(value) is not int or not 0 <= value < 1 << (8 * arg):
            return False
        parts.append(value.to_bytes(arg, "big"))
        return True
    if kind == _RANGE:
        if type(value) is not list:
            return False
        return all(_build_item(arg, element, parts) for element in value)
    if type(value) is not bytes:
        return False
    if kind == _FIXED:
        if len(value) != arg:
            return False
        parts.append(value)
    elif kind == _GREEDY:
        parts.append(value)
    else:  # _LV
        if len(value) > 0xFF:
            return False
        parts.append(bytes((len(value),)))
        parts.append(value)
    return True


def _build_item(item: Item, value: Any, parts: list[bytes]) -> bool:
    is_struct, fields = item
    if not is_struct:
        kind, _, arg = fields[0]
        return _build_value(kind, arg, value, parts)
    return _build_fields(fields, value, parts)


_ABSENT = object()


def _build_fields(fields: tuple[Field, ...], obj: Any, parts: list[bytes]) -> bool:
    """Append the bytes of ``obj``'s fields; False when construct must decide.

    What :func:`_build_value` does per field, inlined for the kinds a flat layout is made
    of (every built command goes through here once per field).
    """
    if not isinstance(obj, dict):
        return False
    append = parts.append
    for kind, name, arg in fields:
        if kind == _CONST:
            if None in obj:
                return False
            append(arg)
            continue
        value = _ABSENT if name is None else obj.get(name, _ABSENT)
        if kind in (_FIXED, _GREEDY):
            if type(value) is not bytes or (kind == _FIXED and len(value) != arg):
                return False
            append(value)
        elif kind == _UINT:
            if type(value) is not int or not 0 <= value < 1 << (8 * arg):
                return False
            append(value.to_bytes(arg, "big"))
        elif kind == _LV:
            if type(value) is not bytes or len(value) > 0xFF:
                return False
            append(bytes((len(value),)))
            append(value)
        elif value is _ABSENT or not _build_value(kind, arg, value, parts):  # a range
            return False
    return True


class FastLayout:
    """Parse and build one flat layout; ``None`` means "ask construct"."""

    __slots__ = ("_fields", "_greedy_only", "_only_tail")

    def __init__(self, fields: tuple[Field, ...] | None) -> None:
        self._fields = fields or ()
        #: a bare GreedyBytes (not a Struct): the value is the bytes themselves
        self._greedy_only = fields is None
        #: a Struct of one greedy field (many command data layouts): that field's name
        only = fields[0] if fields and len(fields) == 1 else None
        self._only_tail = only[1] if only is not None and only[0] == _GREEDY else None

    def parse(self, data: bytes, *, exact: bool) -> Any:
        """Fields of ``data`` (a plain dict), or None when construct must decide.

        ``exact``: the layout must use every byte (else None, so that the caller's own
        trailing-bytes check reports it).
        """
        if type(data) is not bytes:
            data = bytes(data)
        if self._greedy_only:
            return data
        if self._only_tail is not None:
            return {self._only_tail: data}
        n = len(data)
        got = _parse_fields(self._fields, data, 0, n)
        if got is None or (exact and got[1] != n):
            return None
        return got[0]

    def build(self, obj: Any) -> bytes | None:
        """The bytes of ``obj``, or None when construct must decide (or complain)."""
        if self._greedy_only:
            return obj if type(obj) is bytes else None
        if self._only_tail is not None:  # what _build_fields does for this one field
            value = obj.get(self._only_tail) if isinstance(obj, dict) else None
            return value if type(value) is bytes else None
        parts: list[bytes] = []
        if not _build_fields(self._fields, obj, parts):
            return None
        return b"".join(parts)


class FastVariants:
    """The fast path of a :class:`~.variants.Variants`: its key chooses the fast path of
    one variant, which must use the whole data; ``None`` wherever construct decides."""

    __slots__ = ("_field", "_layouts", "_mask", "_offset", "_paths")

    def __init__(self, con: Variants) -> None:
        self._offset, self._field, self._mask = con.offset, con.field, con.mask
        self._layouts = con.layouts
        self._paths = {key: fast_layout(layout) for key, layout in con.layouts.items()}

    def parse(self, data: bytes, *, exact: bool) -> Any:
        """The chosen variant's fields (a variant always takes every byte, ``exact`` or not)."""
        if type(data) is not bytes:
            data = bytes(data)
        offset = self._offset
        if offset is None:
            fast = self._paths.get(len(data))
        else:
            fast = self._paths.get(data[offset] & self._mask) if len(data) > offset else None
        return None if fast is None else fast.parse(data, exact=True)

    def build(self, obj: Any) -> bytes | None:
        offset = self._offset
        if offset is None:  # by length: the first variant construct would pick, or None
            for key, fast in self._paths.items():
                built = None if fast is None else fast.build(obj)
                if built is None:  # not the fast path's: this variant as construct builds it
                    built = _variant_build(self._layouts[key], obj)
                    if built is None:
                        continue  # construct refuses it too, and tries the next variant
                if len(built) == key:
                    return built
            return None
        value = obj.get(self._field) if type(obj) is dict else None
        if type(value) is not int:
            return None
        key = value & self._mask
        fast = self._paths.get(key)
        built = None if fast is None else fast.build(obj)
        if built is None or len(built) <= offset or built[offset] & self._mask != key:
            return None
        return built


def _variant_build(layout: Construct, obj: Any) -> bytes | None:
    """What construct builds of ``obj`` with one variant's layout, None where it refuses
    (as :class:`~.variants.Variants` goes on to the next variant of a length key)."""
    try:
        return bytes(layout.build(obj))
    except ConstructError:
        return None


def _analyse(con: Construct) -> FastLayout | FastVariants | None:
    if type(con) is Variants:
        return FastVariants(con)
    if con is GreedyBytes:
        return FastLayout(None)
    if type(con) is not Struct or getattr(con, "parsed", None) is not None:
        return None
    fields = _struct_fields(con, nested=False)
    return None if fields is None else FastLayout(fields)


@pure_cache(maxsize=1024)
def fast_layout(con: Construct) -> FastLayout | FastVariants | None:
    """The fast path for ``con`` (analysed once per layout object: constructs hash and
    compare by identity), or None."""
    return _analyse(con)
