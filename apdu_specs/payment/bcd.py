"""EMV numeric (``n``) fields: unsigned BCD, right-aligned, left-padded with zeros.

Amounts are ``n12`` in 6 bytes (minor units of the transaction currency), currency
and country codes ``n3`` in 2 bytes, dates ``n6`` YYMMDD in 3 bytes (EMV Book 3 §4.3).
Values are plain ints here; a nibble that is not a digit is a typed error.
"""

from __future__ import annotations

from .errors import PaymentFormatError

__all__ = ["AMOUNT_LENGTH", "decode_numeric", "encode_amount", "encode_numeric"]

AMOUNT_LENGTH = 6


def encode_numeric(value: int, length: int) -> bytes:
    """``value`` as ``length`` bytes of BCD."""
    if not isinstance(value, int) or value < 0:
        raise PaymentFormatError(f"a numeric field holds a non-negative int, got {value!r}")
    digits = str(value)
    if len(digits) > 2 * length:
        raise PaymentFormatError(f"{value} does not fit {2 * length} BCD digits")
    return bytes.fromhex(digits.zfill(2 * length))


def decode_numeric(data: bytes) -> int:
    """The integer a BCD field holds; raise on a nibble above 9."""
    text = bytes(data).hex()
    if not text:
        raise PaymentFormatError("an empty numeric field")
    if not text.isdigit():
        raise PaymentFormatError(f"{text.upper()} is not BCD")
    return int(text)


def encode_amount(amount: int) -> bytes:
    """An ``n12`` amount (tags 9F02, 9F03) in minor units."""
    return encode_numeric(amount, AMOUNT_LENGTH)
