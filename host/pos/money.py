"""Amounts as a holder reads them: ``CNY 1,234.56`` from fen, and back. Integers only."""

from __future__ import annotations

import re

__all__ = ["format_cny", "format_points", "parse_cny"]

_CNY = re.compile(r"(-?)CNY (\d{1,3}(?:,\d{3})*|\d+)\.(\d{2})")


def format_cny(fen: int) -> str:
    """``123456`` → ``"CNY 1,234.56"`` (a minus sign before CNY when negative)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}CNY {yuan:,}.{cents:02d}"


def parse_cny(text: str) -> int:
    """Inverse of :func:`format_cny`; ValueError for anything else."""
    match = _CNY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not an amount like 'CNY 1,234.56'")
    sign, yuan, cents = match.groups()
    fen = int(yuan.replace(",", "")) * 100 + int(cents)
    return -fen if sign else fen


def format_points(points: int) -> str:
    """Points are whole numbers; a sign is shown for movements (``+120``, ``-50``)."""
    return f"{points:+d}"
