"""Amounts typed by people ("12.34") as integers in minor units, and back. Never floats."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

__all__ = ["format_amount", "parse_amount"]


def parse_amount(text: str, exponent: int = 2) -> int:
    """``"12.34"`` → ``1234`` for a currency with ``exponent`` decimals; ValueError otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{text!r} is not a non-negative amount")
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise ValueError(f"{text!r} has more than {exponent} decimals")
    return int(minor)


def format_amount(minor: int, exponent: int = 2) -> str:
    """``1234`` → ``"12.34"``."""
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10 ** exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"
