"""ISO 9564-1 PIN blocks for online PIN: format 0 (3DES) and format 4 (AES).

An online PIN travels from the terminal to the issuer enciphered under a zone PIN key
(ZPK) and bound to the card's PAN, so a block captured for one card is no PIN for another.

- **Format 0** (ANSI X9.8, 8 bytes, 3DES-ECB). PIN field: ``0`` ‖ PIN length (4–C) ‖
  PIN digits ‖ ``F`` fill to 16 nibbles. PAN field: ``0000`` ‖ the 12 rightmost PAN digits
  excluding the check digit (``PAN[-13:-1]``, so a PAN has at least 13 digits). The clear
  block is PIN field XOR PAN field.
- **Format 4** (16 bytes, AES). PIN field: ``4`` ‖ PIN length ‖ PIN digits ‖ ``A`` fill to
  16 nibbles ‖ 8 random bytes. PAN field: ``M`` (PAN length − 12, 0 below 12 digits) ‖
  the PAN, left-padded with ``0`` to 12 digits ‖ ``0`` fill to 32 nibbles. Enciphered:
  ``E(K, E(K, PIN field) XOR PAN field)``; deciphering runs the steps backwards, so a block
  deciphered with another PAN or key gives a PIN field that (with overwhelming
  probability) fails the checks below.

Decoding checks every nibble the format fixes (control, length 4–12, decimal digits,
fill) and raises :class:`PINBlockError` naming what is wrong — never the digits. Clear
blocks and PINs are returned to the caller only; nothing here keeps or prints them.
Randomness (format 4's pad) is a parameter, as everywhere in :mod:`apdu_specs.crypto`.
"""

from __future__ import annotations

from enum import IntEnum

from apdu_specs.crypto.ciphers import Algorithm, check_key, ecb_decrypt, ecb_encrypt, xor
from apdu_specs.crypto.errors import DataLengthError, FormatError, PINBlockError

__all__ = [
    "FORMAT_0_LENGTH",
    "FORMAT_4_LENGTH",
    "PINBlockFormat",
    "decipher_format_0",
    "decipher_format_4",
    "decode_format_0",
    "decode_pin_field_4",
    "encipher_format_0",
    "encipher_format_4",
    "encode_format_0",
    "encode_pin_field_4",
    "pan_field_0",
    "pan_field_4",
]

FORMAT_0_LENGTH = 8
FORMAT_4_LENGTH = 16
_PAD_4_LENGTH = 8
_MIN_PIN, _MAX_PIN = 4, 12


class PINBlockFormat(IntEnum):
    """The ISO 9564-1 formats this module encodes (the control nibble's value)."""

    ISO_0 = 0
    ISO_4 = 4

    @property
    def algorithm(self) -> Algorithm:
        """The cipher the format is defined for: 3DES for 8-byte blocks, AES for 16."""
        return Algorithm.TDES if self is PINBlockFormat.ISO_0 else Algorithm.AES

    @property
    def length(self) -> int:
        return FORMAT_0_LENGTH if self is PINBlockFormat.ISO_0 else FORMAT_4_LENGTH


def _pin(pin: str) -> str:
    if not (isinstance(pin, str) and pin.isascii() and pin.isdigit()
            and _MIN_PIN <= len(pin) <= _MAX_PIN):
        raise FormatError(f"a PIN has {_MIN_PIN} to {_MAX_PIN} decimal digits")
    return pin


def _pan(pan: str, shortest: int) -> str:
    if not (isinstance(pan, str) and pan.isascii() and pan.isdigit()
            and shortest <= len(pan) <= 19):
        raise FormatError(f"a PAN has {shortest} to 19 decimal digits")
    return pan


def _block(block: bytes, length: int, what: str) -> str:
    if not isinstance(block, bytes | bytearray) or len(block) != length:
        size = len(block) if isinstance(block, bytes | bytearray) else type(block).__name__
        raise PINBlockError(f"a {what} has {length} bytes, got {size}")
    return bytes(block).hex().upper()


def _pin_digits(nibbles: str, control: str, fill: str, fill_end: int) -> str:
    """The PIN of a clear PIN field's first ``fill_end`` nibbles, every fixed nibble checked."""
    if nibbles[0] != control:
        raise PINBlockError(f"PIN block control field is {nibbles[0]}, not {control}")
    length = int(nibbles[1], 16)
    if not _MIN_PIN <= length <= _MAX_PIN:
        raise PINBlockError(f"PIN length {length} is outside {_MIN_PIN}..{_MAX_PIN}")
    pin, filler = nibbles[2:2 + length], nibbles[2 + length:fill_end]
    if not pin.isdigit():
        raise PINBlockError("PIN digits are not all decimal")
    if filler != fill * len(filler):
        raise PINBlockError(f"PIN block fill is not all {fill}")
    return pin


# -- format 0 ----------------------------------------------------------------------------------


def pan_field_0(pan: str) -> bytes:
    """Format 0's account number field: ``0000`` ‖ ``PAN[-13:-1]``, left-padded with ``0``."""
    return bytes.fromhex("0000" + _pan(pan, 2)[:-1][-12:].rjust(12, "0"))


def encode_format_0(pin: str, pan: str) -> bytes:
    """The clear format 0 block of ``pin`` for ``pan``."""
    field = f"0{len(_pin(pin)):X}{pin}".ljust(2 * FORMAT_0_LENGTH, "F")
    return xor(bytes.fromhex(field), pan_field_0(pan))


def decode_format_0(block: bytes, pan: str) -> str:
    """The PIN in a clear format 0 block for ``pan``; :class:`PINBlockError` unless well formed."""
    _block(block, FORMAT_0_LENGTH, "format 0 PIN block")
    nibbles = xor(bytes(block), pan_field_0(pan)).hex().upper()
    return _pin_digits(nibbles, "0", "F", 2 * FORMAT_0_LENGTH)


def encipher_format_0(key: bytes, pin: str, pan: str) -> bytes:
    """The format 0 block of ``pin`` for ``pan``, 3DES-ECB under ``key`` (a 2- or 3-key ZPK)."""
    check_key(Algorithm.TDES, key)
    return ecb_encrypt(Algorithm.TDES, key, encode_format_0(pin, pan))


def decipher_format_0(key: bytes, block: bytes, pan: str) -> str:
    """The PIN in an enciphered format 0 block (see :func:`decode_format_0`)."""
    check_key(Algorithm.TDES, key)
    _block(block, FORMAT_0_LENGTH, "format 0 PIN block")
    return decode_format_0(ecb_decrypt(Algorithm.TDES, key, bytes(block)), pan)


# -- format 4 ----------------------------------------------------------------------------------


def encode_pin_field_4(pin: str, pad: bytes) -> bytes:
    """Format 4's plain text PIN field; ``pad`` is its 8 random bytes."""
    if not isinstance(pad, bytes | bytearray) or len(pad) != _PAD_4_LENGTH:
        raise DataLengthError(f"the format 4 pad has {_PAD_4_LENGTH} random bytes")
    field = f"4{len(_pin(pin)):X}{pin}".ljust(FORMAT_4_LENGTH, "A")
    return bytes.fromhex(field) + bytes(pad)


def decode_pin_field_4(field: bytes) -> str:
    """The PIN in a plain text format 4 PIN field (its random half is not checked)."""
    nibbles = _block(field, FORMAT_4_LENGTH, "format 4 PIN field")
    return _pin_digits(nibbles, "4", "A", FORMAT_4_LENGTH)


def pan_field_4(pan: str) -> bytes:
    """Format 4's plain text PAN field (1 to 19 digits)."""
    _pan(pan, 1)
    return bytes.fromhex(f"{max(0, len(pan) - 12)}{pan.rjust(12, '0')}".ljust(32, "0"))


def encipher_format_4(key: bytes, pin: str, pan: str, pad: bytes) -> bytes:
    """The format 4 block of ``pin`` for ``pan`` under the AES ``key``: E(K, E(K, PIN field)
    XOR PAN field). ``pad`` is the PIN field's 8 random bytes (fresh for every block)."""
    check_key(Algorithm.AES, key)
    first = ecb_encrypt(Algorithm.AES, key, encode_pin_field_4(pin, pad))
    return ecb_encrypt(Algorithm.AES, key, xor(first, pan_field_4(pan)))


def decipher_format_4(key: bytes, block: bytes, pan: str) -> str:
    """The PIN in an enciphered format 4 block for ``pan``."""
    check_key(Algorithm.AES, key)
    _block(block, FORMAT_4_LENGTH, "format 4 PIN block")
    middle = xor(ecb_decrypt(Algorithm.AES, key, bytes(block)), pan_field_4(pan))
    return decode_pin_field_4(ecb_decrypt(Algorithm.AES, key, middle))
