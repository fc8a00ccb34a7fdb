"""A common issuer layout of discretionary data: PVKI ‖ PVV ‖ CVV ‖ padding.

The layout is issuer-defined (domain-facts §6.1); this is the widespread one that
puts the PIN verification key index (1 digit), the PIN verification value
(4 digits) and the card verification value (3 digits) first. The values are
computed elsewhere (``apdu_specs.crypto``) and only placed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validate import check_digits, check_length
from .errors import BadCharacter, FieldTooShort

__all__ = ["DiscretionaryData"]


@dataclass(frozen=True)
class DiscretionaryData:
    """PVKI(1) ‖ PVV(4) ‖ CVV(3), then optional padding digits."""

    pvki: str
    pvv: str
    cvv: str
    padding: str = ""

    def __post_init__(self) -> None:
        for what, value, length in (("PVKI", self.pvki, 1), ("PVV", self.pvv, 4),
                                    ("CVV", self.cvv, 3)):
            check_length(value, what, length, length)
            check_digits(value, what)
        check_digits(self.padding, "discretionary padding")

    def encode(self) -> str:
        """The discretionary-data string to pass to ``Track1``/``Track2``."""
        return f"{self.pvki}{self.pvv}{self.cvv}{self.padding}"

    @classmethod
    def parse(cls, discretionary: str) -> DiscretionaryData:
        """Split a discretionary-data string laid out this way."""
        if len(discretionary) < 8:
            raise FieldTooShort("discretionary data (PVKI+PVV+CVV)", 8, len(discretionary))
        for position, char in enumerate(discretionary[:8]):
            if char not in "0123456789":
                raise BadCharacter(char, position, "discretionary data (PVKI+PVV+CVV)")
        return cls(discretionary[0], discretionary[1:5], discretionary[5:8], discretionary[8:])
