"""Visa CVV / Mastercard CVC and Visa PVV, with the Visa decimalisation.

- CVV: pad ``PAN || expiry || service code`` with ``0`` to 32 digits, split into two
  8-byte blocks; ``r = DES_A(block1) xor block2``, then ``3DES-EDE(A, B)(r)``. That is
  ISO/IEC 9797-1 MAC algorithm 3 over the two blocks, which is how it is computed here.
  CVV2 uses service code 000, iCVV 999.
- PVV: ``TSP = PAN[-12:-1] || PVKI || PIN`` (16 digits), ``3DES-ECB(PVK)[TSP]``.
- Decimalisation: the decimal digits of the hex result from the left, then, if more are
  needed, its letters A–F as 0–5 from the left.

PAN, expiry, service code and PIN are digit strings (they are digits on the card and
in the messages); keys are 16 bytes (``CVK-A || CVK-B``, the 2-key PVK).
"""

from __future__ import annotations

from apdu_specs.crypto.ciphers import Algorithm, ecb_encrypt
from apdu_specs.crypto.errors import FormatError
from apdu_specs.crypto.mac import retail_mac
from apdu_specs.crypto.padding import Padding

__all__ = ["cvv", "decimalise", "pvv", "pvv_input"]


def _digits(value: str, what: str, lengths: range) -> str:
    if not value.isascii() or not value.isdigit() or len(value) not in lengths:
        raise FormatError(f"{what} must be {lengths.start}-{lengths.stop - 1} decimal digits")
    return value


def decimalise(block: bytes, count: int) -> str:
    """The first ``count`` digits of ``block`` by Visa decimalisation."""
    hex_digits = block.hex().upper()
    decimal = [d for d in hex_digits if d.isdigit()]
    letters = [str(int(d, 16) - 10) for d in hex_digits if not d.isdigit()]
    return "".join(decimal + letters)[:count]


def cvv(cvk: bytes, pan: str, expiry: str, service_code: str) -> str:
    """The 3-digit CVV/CVC for ``pan``, ``expiry`` (as encoded, usually YYMM) and service code."""
    data = (
        _digits(pan, "PAN", range(1, 20))
        + _digits(expiry, "expiry", range(4, 5))
        + _digits(service_code, "service code", range(3, 4))
    )
    blocks = bytes.fromhex(data.ljust(32, "0"))
    return decimalise(retail_mac(cvk, blocks, padding=Padding.METHOD_1), 3)


def pvv(pvk: bytes, pan: str, pvki: str, pin: str) -> str:
    """The 4-digit Visa PIN verification value."""
    return decimalise(ecb_encrypt(Algorithm.TDES, pvk, pvv_input(pan, pvki, pin)), 4)


def pvv_input(pan: str, pvki: str, pin: str) -> bytes:
    """The block the PVK encrypts: ``TSP = PAN[-12:-1] || PVKI || PIN``."""
    pan = _digits(pan, "PAN", range(12, 20))
    tsp = pan[-12:-1] + _digits(pvki, "PVKI", range(1, 2)) + _digits(pin, "PIN", range(4, 5))
    return bytes.fromhex(tsp)
