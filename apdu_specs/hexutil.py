"""Hex at the edges: lenient on input, one canonical form on output.

Operators paste hex from GlobalPlatformPro (``00A40400``), pyscard (``00 A4 04 00``),
pySim (lower case), apdutool (``0x00 0xA4``) or bracketed lists; all are accepted.
Output is upper case, contiguous unless a separator is asked for.
"""

from __future__ import annotations

import re

from .errors import HexError

__all__ = ["parse_hex", "to_hex"]

_STRIP = re.compile(r"0[xX](?=[0-9a-fA-F])|[\s:,\[\]\-]")


def parse_hex(text: str | bytes, *, what: str = "hex") -> bytes:
    """Parse hex in any of the common notations; raise :class:`HexError` naming ``what``."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("ascii", errors="replace")
    cleaned = _STRIP.sub("", text)
    if len(cleaned) % 2:
        raise HexError(f"{what}: odd number of hex digits ({len(cleaned)}) in {text!r}")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        bad = next((c for c in cleaned if c not in "0123456789abcdefABCDEF"), "?")
        raise HexError(f"{what}: {bad!r} is not a hex digit in {text!r}") from None


def to_hex(data: bytes, sep: str = "") -> str:
    """Upper-case hex, optionally with ``sep`` between bytes."""
    return data.hex(sep).upper() if sep else data.hex().upper()
