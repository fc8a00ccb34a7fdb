"""Spending categories from ISO 18245 merchant category codes, for spending analysis. No I/O."""

from __future__ import annotations

__all__ = ["BILL_CATEGORIES", "category_for_mcc"]

#: bill payment categories (F23: water, power, gas, phone)
BILL_CATEGORIES = ("water", "power", "gas", "phone")

_RANGES: tuple[tuple[int, int, str], ...] = (
    (3000, 3999, "travel"),
    (4000, 4799, "transport"),
    (4800, 4899, "phone"),
    (4900, 4900, "utilities"),
    (5000, 5399, "shopping"),
    (5400, 5499, "groceries"),
    (5500, 5599, "car"),
    (5600, 5699, "clothing"),
    (5700, 5799, "home"),
    (5800, 5899, "dining"),
    (5900, 5999, "shopping"),
    (7000, 7999, "leisure"),
    (8000, 8099, "health"),
    (8200, 8299, "education"),
)


def category_for_mcc(mcc: int) -> str:
    """The category of a merchant category code (``other`` for codes not listed)."""
    return next((name for low, high, name in _RANGES if low <= mcc <= high), "other")
