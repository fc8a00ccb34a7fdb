"""Service code: three digits telling a terminal where and how a card may be used.

Digit meanings follow ISO/IEC 7813 as summarised in domain-facts §6.3. A first
digit of 2 or 6 tells the terminal the card has a chip, so a chip-capable
terminal must not fall back to the stripe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import BadField

__all__ = ["Authorisation", "Interchange", "PinRequirement", "ServiceCode", "Services"]


class Interchange(Enum):
    """Digit 1, without its chip flag."""

    INTERNATIONAL = "international interchange"
    NATIONAL = "national interchange only"
    BILATERAL = "no interchange except under bilateral agreement"
    TEST = "test card"
    RESERVED = "reserved for future use"


class Authorisation(Enum):
    """Digit 2."""

    NORMAL = "transactions authorised following normal rules"
    ONLINE = "transactions authorised online by the issuer"
    ONLINE_UNLESS_BILATERAL = "authorised online by the issuer, except under bilateral agreement"
    RESERVED = "reserved for future use"


class Services(Enum):
    """Digit 3, the allowed services half."""

    NO_RESTRICTIONS = "no restrictions"
    GOODS_AND_SERVICES = "goods and services only"
    ATM_ONLY = "ATM only"
    CASH_ONLY = "cash only"
    RESERVED = "reserved for future use"


class PinRequirement(Enum):
    """Digit 3, the PIN half."""

    REQUIRED = "PIN required"
    NONE = "no PIN requirement"
    WHERE_FEASIBLE = "PIN where a PIN pad is present"
    RESERVED = "reserved for future use"


_DIGIT1: dict[str, tuple[Interchange, bool]] = {
    "1": (Interchange.INTERNATIONAL, False),
    "2": (Interchange.INTERNATIONAL, True),
    "5": (Interchange.NATIONAL, False),
    "6": (Interchange.NATIONAL, True),
    "7": (Interchange.BILATERAL, False),
    "9": (Interchange.TEST, False),
}
_DIGIT2: dict[str, Authorisation] = {
    "0": Authorisation.NORMAL,
    "2": Authorisation.ONLINE,
    "4": Authorisation.ONLINE_UNLESS_BILATERAL,
}
_DIGIT3: dict[str, tuple[Services, PinRequirement]] = {
    "0": (Services.NO_RESTRICTIONS, PinRequirement.REQUIRED),
    "1": (Services.NO_RESTRICTIONS, PinRequirement.NONE),
    "2": (Services.GOODS_AND_SERVICES, PinRequirement.NONE),
    "3": (Services.ATM_ONLY, PinRequirement.REQUIRED),
    "4": (Services.CASH_ONLY, PinRequirement.NONE),
    "5": (Services.GOODS_AND_SERVICES, PinRequirement.REQUIRED),
    "6": (Services.NO_RESTRICTIONS, PinRequirement.WHERE_FEASIBLE),
    "7": (Services.GOODS_AND_SERVICES, PinRequirement.WHERE_FEASIBLE),
}


@dataclass(frozen=True)
class ServiceCode:
    """A parsed service code; reserved digit values parse but say so."""

    code: str

    def __post_init__(self) -> None:
        if len(self.code) != 3 or not self.code.isascii() or not self.code.isdigit():
            raise BadField("service code", f"{self.code!r} is not three digits")

    @property
    def interchange(self) -> Interchange:
        return _DIGIT1.get(self.code[0], (Interchange.RESERVED, False))[0]

    @property
    def chip_present(self) -> bool:
        """True for first digit 2 or 6: use the chip, do not fall back to the stripe."""
        return _DIGIT1.get(self.code[0], (Interchange.RESERVED, False))[1]

    @property
    def authorisation(self) -> Authorisation:
        return _DIGIT2.get(self.code[1], Authorisation.RESERVED)

    @property
    def services(self) -> Services:
        return _DIGIT3.get(self.code[2], (Services.RESERVED, PinRequirement.RESERVED))[0]

    @property
    def pin(self) -> PinRequirement:
        return _DIGIT3.get(self.code[2], (Services.RESERVED, PinRequirement.RESERVED))[1]

    def describe(self) -> dict[str, str | bool]:
        """Plain-language meaning of each digit, for operators and ``--json`` output."""
        return {
            "code": self.code,
            "interchange": self.interchange.value,
            "chip_present": self.chip_present,
            "authorisation": self.authorisation.value,
            "services": self.services.value,
            "pin": self.pin.value,
        }

    def __str__(self) -> str:
        return self.code
