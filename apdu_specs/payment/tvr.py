"""Terminal verification results (TVR, tag 95): what the terminal found, bit by bit.

Five bytes the terminal fills in during a transaction and hands to the card in the
CDOL data of both GENERATE ACs, where the cryptogram covers them; the issuer reads them
back from the authorisation and the clearing. Bits as EMV Book 3 Annex C5 numbers them
(byte 1–5, b8 the leftmost); the ones dualcard's terminals set, and those around them,
are named here once, so no terminal writes a mask of its own.
"""

from __future__ import annotations

from enum import Enum

from .errors import PaymentFormatError

__all__ = ["TVR_LENGTH", "TVRBit", "bits_set", "set_bits"]

TVR_LENGTH = 5


class TVRBit(Enum):
    """One TVR condition: (byte 1–5, bit mask)."""

    OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED = (1, 0x80)
    SDA_FAILED = (1, 0x40)
    ICC_DATA_MISSING = (1, 0x20)
    CARD_ON_EXCEPTION_FILE = (1, 0x10)
    DDA_FAILED = (1, 0x08)
    CDA_FAILED = (1, 0x04)
    DIFFERENT_APPLICATION_VERSIONS = (2, 0x80)
    EXPIRED_APPLICATION = (2, 0x40)
    APPLICATION_NOT_YET_EFFECTIVE = (2, 0x20)
    SERVICE_NOT_ALLOWED = (2, 0x10)
    NEW_CARD = (2, 0x08)
    CARDHOLDER_VERIFICATION_FAILED = (3, 0x80)
    UNRECOGNISED_CVM = (3, 0x40)
    PIN_TRY_LIMIT_EXCEEDED = (3, 0x20)
    PIN_PAD_NOT_PRESENT = (3, 0x10)
    PIN_NOT_ENTERED = (3, 0x08)
    ONLINE_PIN_ENTERED = (3, 0x04)
    FLOOR_LIMIT_EXCEEDED = (4, 0x80)
    LOWER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED = (4, 0x40)
    UPPER_CONSECUTIVE_OFFLINE_LIMIT_EXCEEDED = (4, 0x20)
    SELECTED_RANDOMLY_FOR_ONLINE = (4, 0x10)
    MERCHANT_FORCED_ONLINE = (4, 0x08)
    DEFAULT_TDOL_USED = (5, 0x80)
    ISSUER_AUTHENTICATION_FAILED = (5, 0x40)
    SCRIPT_FAILED_BEFORE_FINAL_AC = (5, 0x20)
    SCRIPT_FAILED_AFTER_FINAL_AC = (5, 0x10)

    @property
    def byte(self) -> int:
        """Its byte, 1 to 5 (Book 3 numbering)."""
        return self.value[0]

    @property
    def mask(self) -> int:
        return self.value[1]


def _checked(tvr: bytes) -> bytes:
    if len(tvr) != TVR_LENGTH:
        raise PaymentFormatError(f"a TVR is {TVR_LENGTH} bytes, got {bytes(tvr).hex()}")
    return bytes(tvr)


def set_bits(tvr: bytes, *bits: TVRBit) -> bytes:
    """``tvr`` with ``bits`` set, every other bit as it was."""
    out = bytearray(_checked(tvr))
    for bit in bits:
        out[bit.byte - 1] |= bit.mask
    return bytes(out)


def bits_set(tvr: bytes) -> frozenset[TVRBit]:
    """The named conditions ``tvr`` carries."""
    tvr = _checked(tvr)
    return frozenset(bit for bit in TVRBit if tvr[bit.byte - 1] & bit.mask)
