"""The plaintext offline PIN block of VERIFY (EMV Book 3 §6.5.12, ISO 9564-1 format 2).

Eight bytes: control nibble ``2``, the PIN length (4–12), the PIN digits, then ``F``
fill. The same block is what an issuer enciphers for PIN CHANGE, so one function
serves VERIFY, personalisation and the issuer script.
"""

from __future__ import annotations

from .errors import PaymentFormatError

__all__ = ["PIN_BLOCK_LENGTH", "decode_pin_block", "encode_pin_block"]

PIN_BLOCK_LENGTH = 8
_MIN_DIGITS, _MAX_DIGITS = 4, 12


def encode_pin_block(pin: str) -> bytes:
    """The 8-byte block for a PIN of 4–12 decimal digits."""
    if not (pin.isascii() and pin.isdigit() and _MIN_DIGITS <= len(pin) <= _MAX_DIGITS):
        raise PaymentFormatError("a PIN has 4 to 12 decimal digits")
    return bytes.fromhex(f"2{len(pin):X}{pin}".ljust(2 * PIN_BLOCK_LENGTH, "F"))


def decode_pin_block(block: bytes) -> str:
    """The PIN in a block; :class:`PaymentFormatError` unless the block is well formed."""
    if len(block) != PIN_BLOCK_LENGTH:
        raise PaymentFormatError(f"a PIN block has {PIN_BLOCK_LENGTH} bytes, got {len(block)}")
    nibbles = bytes(block).hex().upper()
    if nibbles[0] != "2":
        raise PaymentFormatError(f"PIN block control field {nibbles[0]} is not 2")
    length = int(nibbles[1], 16)
    if not _MIN_DIGITS <= length <= _MAX_DIGITS:
        raise PaymentFormatError(f"PIN length {length} is outside 4..12")
    pin, fill = nibbles[2:2 + length], nibbles[2 + length:]
    if not pin.isdigit() or fill != "F" * len(fill):
        raise PaymentFormatError("PIN block digits or filler are malformed")
    return pin
