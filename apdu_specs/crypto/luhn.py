"""The Luhn (mod 10) check digit of PANs and other identification numbers."""

from __future__ import annotations

from apdu_specs.crypto.errors import FormatError

__all__ = ["check_digit", "is_valid"]


def _sum(digits: str, double_first: bool) -> int:
    if not digits.isascii() or not digits.isdigit():
        raise FormatError("a Luhn number must be decimal digits")
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if (position % 2 == 0) == double_first:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total


def check_digit(payload: str) -> str:
    """The digit that makes ``payload || digit`` Luhn-valid."""
    return str(-_sum(payload, double_first=True) % 10)


def is_valid(number: str) -> bool:
    """True if ``number`` (check digit last) passes the Luhn check."""
    if len(number) < 2:
        raise FormatError("a Luhn number has at least a payload digit and a check digit")
    return _sum(number, double_first=False) % 10 == 0
