"""DES key parity: EMV and the payment HSMs store DES keys with odd parity in every byte."""

from __future__ import annotations

__all__ = ["has_odd_parity", "with_odd_parity"]


def _odd(byte: int) -> int:
    # Keep the seven key bits, set the low bit so the byte has an odd number of ones.
    high = byte & 0xFE
    return high | (bin(high).count("1") % 2 == 0)


_ODD = bytes(_odd(b) for b in range(256))


def with_odd_parity(key: bytes) -> bytes:
    """``key`` with the least significant bit of every byte set for odd parity."""
    return key.translate(_ODD)


def has_odd_parity(key: bytes) -> bool:
    """True if every byte of ``key`` has an odd number of one bits."""
    return key.translate(_ODD) == key
