"""Exact rational rates with an explicit rounding rule: the points calculation unit (F10), the
two-way rule, point values and conversion rates all use these, never floats."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from host.backoffice.assets import MAX_AMOUNT
from host.backoffice.errors import ValidationError

__all__ = ["Ratio", "Rounding", "ceil_div", "parse_ratio"]


class Rounding(StrEnum):
    """How a fractional result becomes an integer."""

    DOWN = "down"  # toward zero: the payer keeps the fraction
    UP = "up"  # away from zero
    HALF_UP = "half_up"  # to nearest, halves away from zero


def ceil_div(numerator: int, denominator: int) -> int:
    return -((-numerator) // denominator)


@dataclass(frozen=True, slots=True)
class Ratio:
    """``num / den`` of non-negative integers, ``den`` > 0."""

    num: int
    den: int

    def __post_init__(self) -> None:
        for name, value in (("numerator", self.num), ("denominator", self.den)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(f"rate {name} must be an integer, got {value!r}")
            if not 0 <= value <= MAX_AMOUNT:
                raise ValidationError(f"rate {name} must be in 0..{MAX_AMOUNT}, got {value}")
        if self.den == 0:
            raise ValidationError("rate denominator must be positive")

    def apply(self, value: int, rounding: Rounding = Rounding.DOWN) -> int:
        """``value × num / den`` rounded as told (``value`` ≥ 0)."""
        product = value * self.num
        if rounding is Rounding.DOWN:
            return product // self.den
        if rounding is Rounding.UP:
            return ceil_div(product, self.den)
        return (2 * product + self.den) // (2 * self.den)

    def __str__(self) -> str:
        return f"{self.num}/{self.den}"


def parse_ratio(text: str) -> Ratio:
    """``"3/100"`` or ``"2"`` (meaning 2/1)."""
    parts = text.strip().split("/")
    try:
        if len(parts) == 1:
            return Ratio(int(parts[0]), 1)
        if len(parts) == 2:
            return Ratio(int(parts[0]), int(parts[1]))
    except ValueError:
        pass
    raise ValidationError(f"not a rate: {text!r} (expected NUM/DEN, e.g. 1/100)")
