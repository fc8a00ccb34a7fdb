"""Answers-to-reset with meaningful historical bytes (ISO/IEC 7816-3 §8, 7816-4 §8.1.1).

Both chips offer T=0 (what payment terminals and python-emv expect) and T=1.
Historical bytes, compact-TLV after category indicator 80: card issuer's data
(tag 5) naming the product and chip, and card capabilities (tag 7): selection
by full DF name, command chaining, logical channels assigned by card or
interface device, four channels.
"""

from __future__ import annotations

from functools import reduce

__all__ = ["build_atr", "parse_historical_bytes"]

CARD_CAPABILITIES = bytes((0x80, 0x00, 0x9B))


def build_atr(issuer_data: bytes, *, capabilities: bytes = CARD_CAPABILITIES) -> bytes:
    if len(issuer_data) > 15 or len(capabilities) > 15:
        raise ValueError("a compact-TLV value holds at most 15 bytes")
    hist = (b"\x80" + bytes([0x50 | len(issuer_data)]) + issuer_data
            + bytes([0x70 | len(capabilities)]) + capabilities)
    if len(hist) > 15:
        raise ValueError(f"{len(hist)} historical bytes; an ATR carries at most 15")
    t0 = 0x80 | len(hist)  # TD1 present
    body = bytes([t0, 0x80, 0x01]) + hist  # TD1: T=0, TD2 follows; TD2: T=1
    tck = reduce(lambda a, b: a ^ b, body, 0)
    return b"\x3B" + body + bytes([tck])


def parse_historical_bytes(atr: bytes) -> dict[int, bytes]:
    """Compact-TLV objects of an ATR built by :func:`build_atr` (for identification)."""
    if len(atr) < 2 or atr[0] not in (0x3B, 0x3F):
        raise ValueError("not an ATR")
    k = atr[1] & 0x0F
    pos, td = 2, atr[1]
    while True:
        pos += sum(1 for bit in (0x10, 0x20, 0x40) if td & bit)
        if not td & 0x80:
            break
        td = atr[pos]
        pos += 1
    hist = atr[pos:pos + k]
    out: dict[int, bytes] = {}
    i = 1 if hist[:1] == b"\x80" else 0
    while i < len(hist):
        tag, n = hist[i] >> 4, hist[i] & 0x0F
        out[tag] = hist[i + 1:i + 1 + n]
        i += 1 + n
    return out
