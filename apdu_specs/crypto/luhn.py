"""The Luhn (mod 10) check digit of PANs and other identification numbers."""

from __future__ import annotations

from apdu_specs.crypto.errors import FormatError

__all__ = ["check_digit", "is_valid"]


#: a digit's contribution when doubled (d * 2, less 9 above 4)
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _sum(digits: str, double_first: bool) -> int:
    if not digits.isascii() or not digits.isdigit():
        raise FormatError("a Luhn number must be decimal digits")
    values = [ord(char) - 48 for char in reversed(digits)]
    doubled = values[0 if double_first else 1::2]
    return sum(values[1 if double_first else 0::2]) + sum(_DOUBLED[v] for v in doubled)


def check_digit(payload: str) -> str:
    """The digit that makes ``payload || digit`` Luhn-valid."""
    return str(-_sum(payload, double_first=True) % 10)


def is_valid(number: str) -> bool:
    """True if ``number`` (check digit last) passes the Luhn check."""
    if len(number) < 2:
        raise FormatError("a Luhn number has at least a payload digit and a check digit")
    return _sum(number, double_first=False) % 10 == 0
