"""BER-TLV (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1) and Data Object Lists.

EMV tolerates what strict DER forbids: ``00`` and ``FF`` padding between
objects, non-minimal long-form lengths. The parser accepts those; the encoder
always writes minimal lengths. Tags are plain ints (``0x9F02``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .caches import pure_cache
from .errors import TLVError
from .hexutil import to_hex

__all__ = [
    "TLV",
    "build_dol_data",
    "decode_length",
    "decode_tag",
    "encode_dol",
    "encode_length",
    "encode_tag",
    "encode_tlvs",
    "find",
    "find_all",
    "is_constructed",
    "parse_dol",
    "parse_tlvs",
]


def tag_bytes(tag: int) -> bytes:
    if tag < 0:
        raise TLVError(f"negative tag {tag}")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


# Tags are few and their encodings never change: the per-tag answers below are computed
# once (every TLV built or encoded asks them).
@pure_cache(maxsize=2048)
def is_constructed(tag: int) -> bool:
    return bool(tag_bytes(tag)[0] & 0x20)


@pure_cache(maxsize=2048)
def encode_tag(tag: int) -> bytes:
    raw = tag_bytes(tag)
    # validate that the bytes form one well-formed tag
    parsed, used = decode_tag(raw, 0)
    if used != len(raw) or parsed != tag:
        raise TLVError(f"{tag:X} is not a well-formed BER tag")
    return raw


def decode_tag(data: bytes, pos: int) -> tuple[int, int]:
    """Return (tag, new position). Multi-byte tags: low 5 bits all set, then b8 continues."""
    if pos >= len(data):
        raise TLVError(f"tag expected at offset {pos}, data ends")
    first = data[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TLVError(f"multi-byte tag {tag:X} truncated at offset {pos}")
            b = data[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
            if tag > 0xFFFFFFFF:
                raise TLVError("tag longer than 4 bytes")
    return tag, pos


def encode_length(n: int) -> bytes:
    if n < 0:
        raise TLVError(f"negative length {n}")
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(body) > 4:
        raise TLVError(f"length {n} too large")
    return bytes([0x80 | len(body)]) + body


def decode_length(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise TLVError(f"length expected at offset {pos}, data ends")
    first = data[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    count = first & 0x7F
    if count == 0:
        raise TLVError(f"indefinite length (80) at offset {pos - 1} is not allowed")
    if count > 4:
        raise TLVError(f"length of {count} bytes at offset {pos - 1} is not supported")
    if pos + count > len(data):
        raise TLVError(f"long-form length truncated at offset {pos}")
    return int.from_bytes(data[pos:pos + count], "big"), pos + count


@dataclass(frozen=True, init=False)
class TLV:
    """One data object. A constructed object keeps its children in ``children``."""

    tag: int
    value: bytes = b""
    children: tuple[TLV, ...] = field(default=())

    def __init__(self, tag: int, value: bytes = b"", children: tuple[TLV, ...] = ()) -> None:
        # Parsing builds one object per data object: filling the frozen fields through
        # __dict__ costs half of the generated __init__'s object.__setattr__ calls.
        fields = self.__dict__
        fields["tag"], fields["value"], fields["children"] = tag, value, children

    @classmethod
    def build(cls, tag: int, content: bytes | Iterable[TLV]) -> TLV:
        if type(content) is bytes or isinstance(content, bytes | bytearray):
            if is_constructed(tag):
                return cls(tag, bytes(content), _parsed(bytes(content)))
            return cls(tag, bytes(content))
        kids = tuple(content)
        return cls(tag, encode_tlvs(kids), kids)

    @property
    def constructed(self) -> bool:
        return is_constructed(self.tag)

    def encode(self) -> bytes:
        n = len(self.value)
        if n < 0x80:
            return encode_tag(self.tag) + bytes((n,)) + self.value
        return encode_tag(self.tag) + encode_length(n) + self.value

    def find(self, tag: int) -> TLV | None:
        return find(self.children, tag)

    def __str__(self) -> str:
        return f"{self.tag:X}[{len(self.value)}]={to_hex(self.value)}"


def _parse_into(data: bytes, out: list[TLV]) -> None:
    """One pass over ``data``; the hot path of every card answer, so tag and length
    decoding are inlined for the common short forms."""
    pos = 0
    n = len(data)
    while pos < n:
        first = data[pos]
        if first == 0x00 or first == 0xFF:
            pos += 1
            continue
        if first & 0x1F == 0x1F:
            tag, pos = decode_tag(data, pos)
        else:
            tag = first
            pos += 1
        if pos < n and data[pos] < 0x80:
            length = data[pos]
            pos += 1
        else:
            length, pos = decode_length(data, pos)
        end = pos + length
        if end > n:
            raise TLVError(f"tag {tag:X} announces {length} bytes but only {n - pos} remain")
        value = data[pos:end]
        pos = end
        if first & 0x20:
            kids: list[TLV] = []
            _parse_into(value, kids)
            out.append(TLV(tag, value, tuple(kids)))
        else:
            out.append(TLV(tag, value))


def parse_tlvs(data: bytes) -> list[TLV]:
    """Parse a sequence of BER-TLV objects (recursing into constructed ones)."""
    return list(_parsed(data if type(data) is bytes else bytes(data)))


@pure_cache(maxsize=256)
def _parsed(data: bytes) -> tuple[TLV, ...]:
    """The objects of ``data``: a pure function of immutable bytes, and TLVs are frozen,
    so the same answer (a card's FCI, a record read again) is parsed once."""
    out: list[TLV] = []
    _parse_into(data, out)
    return tuple(out)


def encode_tlvs(objs: Iterable[TLV]) -> bytes:
    return b"".join([o.encode() for o in objs])


def find_all(objs: Iterable[TLV], tag: int) -> Iterator[TLV]:
    """Depth-first search through nested objects."""
    for o in objs:
        if o.tag == tag:
            yield o
        if o.children:
            yield from find_all(o.children, tag)


def find(objs: Iterable[TLV], tag: int) -> TLV | None:
    """The first object with ``tag``, depth first (what :func:`find_all` yields first)."""
    for o in objs:
        if o.tag == tag:
            return o
        if o.children:
            hit = find(o.children, tag)
            if hit is not None:
                return hit
    return None


# --- Data Object Lists (EMV Book 3 §5.4) -------------------------------------------

def parse_dol(data: bytes) -> list[tuple[int, int]]:
    """A DOL is a list of (tag, length) pairs with no values."""
    return list(_parsed_dol(data if type(data) is bytes else bytes(data)))


@pure_cache(maxsize=256)
def _parsed_dol(data: bytes) -> tuple[tuple[int, int], ...]:
    """A pure function of immutable bytes: each distinct DOL (a card's CDOL1, PDOL…) once."""
    out: list[tuple[int, int]] = []
    pos = 0
    while pos < len(data):
        tag, pos = decode_tag(data, pos)
        length, pos = decode_length(data, pos)
        out.append((tag, length))
    return tuple(out)


def encode_dol(entries: Sequence[tuple[int, int]]) -> bytes:
    return b"".join(encode_tag(t) + encode_length(n) for t, n in entries)


def build_dol_data(dol: Sequence[tuple[int, int]], values: Mapping[int, bytes], *,
                   numeric_tags: Iterable[int] = ()) -> bytes:
    """Concatenate values in DOL order, fitted to each requested length.

    EMV Book 3 §5.4: a missing value is zeros; a longer value is truncated (numeric
    ``n`` values keep their rightmost bytes, others their leftmost); a shorter one
    is padded (numeric on the left with zeros, others on the right).
    """
    numeric = set(numeric_tags)
    out = bytearray()
    for tag, length in dol:
        v = values.get(tag, b"\x00" * length)
        if len(v) > length:
            v = v[-length:] if tag in numeric else v[:length]
        elif len(v) < length:
            pad = b"\x00" * (length - len(v))
            v = pad + v if tag in numeric else v + pad
        out += v
    return bytes(out)


def split_dol_data(dol: Sequence[tuple[int, int]], data: bytes) -> dict[int, bytes]:
    """Inverse of :func:`build_dol_data` for the card: cut data into the DOL's fields."""
    total = sum(n for _, n in dol)
    if len(data) != total:
        raise TLVError(f"DOL data is {len(data)} bytes, the DOL asks for {total}")
    out: dict[int, bytes] = {}
    pos = 0
    for tag, n in dol:
        out[tag] = bytes(data[pos:pos + n])
        pos += n
    return out
