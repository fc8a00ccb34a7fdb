"""The three application cryptogram types (EMV Book 3 §6.5.5, Table 12/14).

GENERATE AC's P1 asks for one (bits 8–7: 00 AAC, 01 TC, 10 ARQC); the card answers
with the same or a "safer" one, named in the cryptogram information data (9F27,
same bit positions). A card may turn a requested TC into an ARQC (go online) or any
request into an AAC (decline), never an AAC/ARQC request into a TC.
"""

from __future__ import annotations

from enum import Enum

from .errors import PaymentFormatError

__all__ = ["CDA_REQUESTED", "ACType"]

CDA_REQUESTED = 0x10  #: P1 bit asking for a combined DDA/AC signature (not supported by chip 1)
_TYPE_MASK = 0xC0


class ACType(Enum):
    """AAC (decline), TC (approve offline), ARQC (go online)."""

    AAC = 0x00
    TC = 0x40
    ARQC = 0x80

    @property
    def code(self) -> int:
        """The two-bit code used inside the CVR (00 AAC, 01 TC, 10 ARQC)."""
        return self.value >> 6

    @classmethod
    def from_bits(cls, byte: int) -> ACType:
        """The type named by bits 8–7 of a GENERATE AC P1 or a CID byte."""
        bits = byte & _TYPE_MASK
        for kind in cls:
            if kind.value == bits:
                return kind
        raise PaymentFormatError(f"cryptogram type bits 11 (byte {byte:02X}) are reserved")

    @classmethod
    def from_code(cls, code: int) -> ACType:
        return cls.from_bits(code << 6)

    def permits(self, answer: ACType) -> bool:
        """May a card answer a request of this type with ``answer``?"""
        if answer is ACType.AAC:
            return True
        if answer is ACType.TC:
            return self is ACType.TC
        return self is not ACType.AAC
