"""Split a command APDU into header, Lc, data and Le without judging it.

The transport layer needs just enough structure to re-send a command with a new
Le (6Cxx handling) and to print a trace line; it must cope with malformed input
because traces show whatever was sent. Case detection follows ISO/IEC 7816-4
§5.1 as summarised in domain-facts §1.1 (length 4 = case 1, 5 = 2S, byte 4 == 00
with length >= 7 = extended, otherwise short with Lc in byte 4).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CommandShape", "split_command", "with_le"]


@dataclass(frozen=True, slots=True)
class CommandShape:
    """The fields of a command APDU, each as the raw bytes that encode it."""

    header: bytes
    lc: bytes = b""
    data: bytes = b""
    le: bytes = b""
    extended: bool = False
    well_formed: bool = True

    @property
    def ne(self) -> int | None:
        """Maximum response length the command asks for, None when Le is absent."""
        if not self.le:
            return None
        value = int.from_bytes(self.le, "big")
        if len(self.le) == 1:
            return value or 256
        return value or 65536


def split_command(apdu: bytes) -> CommandShape:
    """Split ``apdu``; anything that fits no case is returned with ``well_formed=False``."""
    apdu = bytes(apdu)
    size = len(apdu)
    if size < 4:
        return CommandShape(header=apdu, well_formed=False)
    header = apdu[:4]
    if size == 4:
        return CommandShape(header)
    if size == 5:
        return CommandShape(header, le=apdu[4:5])
    if apdu[4] == 0 and size >= 7:
        return _split_extended(apdu)
    lc = apdu[4]
    if lc and size == 5 + lc:
        return CommandShape(header, lc=apdu[4:5], data=apdu[5:])
    if lc and size == 6 + lc:
        return CommandShape(header, lc=apdu[4:5], data=apdu[5:-1], le=apdu[-1:])
    return CommandShape(header, data=apdu[4:], well_formed=False)


def _split_extended(apdu: bytes) -> CommandShape:
    header, size = apdu[:4], len(apdu)
    if size == 7:
        return CommandShape(header, le=apdu[5:7], extended=True)
    lc = int.from_bytes(apdu[5:7], "big")
    if lc and size == 7 + lc:
        return CommandShape(header, lc=apdu[4:7], data=apdu[7:], extended=True)
    if lc and size == 9 + lc:
        return CommandShape(header, lc=apdu[4:7], data=apdu[7:-2], le=apdu[-2:], extended=True)
    return CommandShape(header, data=apdu[4:], well_formed=False)


def with_le(apdu: bytes, ne: int) -> bytes:
    """Return ``apdu`` asking for ``ne`` response bytes (1..65536), keeping its form.

    A short command keeps a 1-byte Le (256 encodes as 00) and becomes extended
    only when ``ne`` exceeds 256; a command without Le gains one.
    """
    if not 1 <= ne <= 65536:
        raise ValueError(f"Ne must be 1..65536, got {ne}")
    shape = split_command(apdu)
    if not shape.well_formed:
        raise ValueError(f"cannot set Le on malformed APDU {bytes(apdu).hex().upper()}")
    if shape.extended or ne > 256:
        le = (ne % 65536).to_bytes(2, "big")
        if shape.extended:
            lc = shape.lc
        elif shape.lc:
            lc = b"\x00" + len(shape.data).to_bytes(2, "big")
        else:
            lc = b""
        marker = b"" if lc else b"\x00"
        return shape.header + lc + shape.data + marker + le
    return shape.header + shape.lc + shape.data + bytes((ne % 256,))
