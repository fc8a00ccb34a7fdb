"""Data with several whole layouts, the one in use named by the data itself.

Why: some answers change shape with the protocol that produced them. INITIALIZE UPDATE
answers 28 bytes under SCP02 and 29 to 48 under SCP03, and the byte that tells them apart
(the SCP identifier) sits inside the answer; EXTERNAL AUTHENTICATE carries 8-byte or
16-byte cryptograms and MACs, told apart only by the length. One spec still decodes and
encodes every form: its layout is a :class:`Variants` of complete layouts.

Theory of operation: a :class:`Variants` chooses a layout by a *key* — the byte at
``offset`` (masked with ``mask``) or, without an offset, the data's length — and that
layout must then use every byte of the data. Building reads the key from the field at
``offset`` (named ``field``); by length, the first layout whose bytes have the length it
is keyed by wins. A key without a layout, trailing bytes or a built key that is not the
one asked for are :class:`VariantError`, a ``construct`` error like any other. A layout
of a variant may itself be a :class:`Variants` (SCP03 chooses again by its i parameter).
The fast codec (:mod:`._fast_layout`) derives its own path from the same object.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any

from construct import Construct, ConstructError, SizeofError, Struct
from construct.core import stream_read_entire, stream_write

from ..errors import ProtocolError

__all__ = ["VariantError", "Variants", "field_names"]


class VariantError(ConstructError, ProtocolError):
    """The data (or the fields to build) fits none of the variants.

    A ``construct`` error, so that a spec reports it like any other layout error, and a
    :class:`~apdu_specs.errors.ProtocolError` (malformed data handed to a codec) when a
    :class:`Variants` is used on its own."""

    def __init__(self, message: str, path: str | None = None) -> None:
        ConstructError.__init__(self, message, path=path)  # construct keeps the path


class Variants(Construct):
    """One of several complete layouts, chosen by a byte of the data or by its length."""

    def __init__(self, layouts: Mapping[int, Construct], *, offset: int | None = None,
                 field: str | None = None, mask: int = 0xFF) -> None:
        super().__init__()
        if not layouts:
            raise ValueError("Variants needs at least one layout")
        if (offset is None) != (field is None):
            raise ValueError("a byte key needs both its offset and the field it is built from")
        self.layouts = dict(layouts)
        self.offset = offset
        self.field = field
        self.mask = mask
        self.flagbuildnone = False

    # --- choosing ------------------------------------------------------------------------
    def key_of(self, data: bytes) -> int | None:
        """The key ``data`` names (None: too short to hold the key byte)."""
        if self.offset is None:
            return len(data)
        return data[self.offset] & self.mask if len(data) > self.offset else None

    def _name(self, key: int) -> str:
        return f"{key} bytes" if self.offset is None else f"{self.field} {key:02X}"

    def describe_key(self, key: int | None) -> str:
        """Why no layout fits ``key``, naming the keys that have one."""
        if key is None:
            return f"too short for its {self.field} (byte {(self.offset or 0) + 1})"
        known = ", ".join(self._name(k) for k in self.layouts)
        return f"no layout for {self._name(key)} (known: {known})"

    # --- construct -----------------------------------------------------------------------
    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        data = stream_read_entire(stream, path)
        key = self.key_of(data)
        if key is None or key not in self.layouts:
            raise VariantError(self.describe_key(key), path=path)
        layout = self.layouts[key]
        inner = io.BytesIO(data)
        value = layout._parsereport(inner, context, path)
        extra = len(data) - inner.tell()
        if extra:
            raise VariantError(f"{extra} byte(s) after the layout for {self._name(key)}",
                               path=path)
        return value

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        for key, layout in self._candidates(obj, path):
            try:
                data = bytes(layout.build(obj))
            except ConstructError:
                if self.offset is not None:
                    raise
                continue
            if self.key_of(data) == key:
                stream_write(stream, data, len(data), path)
                return obj
            if self.offset is not None:
                break
        raise VariantError("the fields build no variant that names itself", path=path)

    def _candidates(self, obj: Any, path: str) -> Iterator[tuple[int, Construct]]:
        if self.offset is None:
            yield from self.layouts.items()
            return
        value = obj.get(self.field) if isinstance(obj, Mapping) else None
        if type(value) is not int:
            raise VariantError(f"field {self.field!r} must be an int to choose a layout",
                               path=path)
        key = value & self.mask
        if key not in self.layouts:
            raise VariantError(self.describe_key(key), path=path)
        yield key, self.layouts[key]

    def _sizeof(self, context: Any, path: str) -> int:
        raise SizeofError("the size depends on the variant", path=path)


def field_names(layout: Construct | None) -> list[str]:
    """The named fields of a layout: a Struct's, or those of every variant (in order)."""
    if isinstance(layout, Variants):
        names: dict[str, None] = {}
        for inner in layout.layouts.values():
            names.update(dict.fromkeys(field_names(inner)))
        return list(names)
    if isinstance(layout, Struct):
        return [sub.name for sub in layout.subcons if isinstance(sub.name, str)]
    return []
