"""Field checks shared by the track and discretionary-data models."""

from __future__ import annotations

from ..caches import pure_cache
from .errors import BadCharacter, FieldTooLong, FieldTooShort
from .formats import TrackFormat

__all__ = ["check_digits", "check_length", "check_text"]


def check_length(value: str, what: str, minimum: int, maximum: int) -> None:
    if len(value) > maximum:
        raise FieldTooLong(what, maximum, len(value))
    if len(value) < minimum:
        raise FieldTooShort(what, minimum, len(value))


def check_digits(value: str, what: str) -> None:
    if value.isascii() and value.isdigit():
        return  # ASCII digits are exactly 0-9
    for position, char in enumerate(value):
        if char not in "0123456789":
            raise BadCharacter(char, position, what)


def check_text(value: str, what: str, fmt: TrackFormat, forbidden: str) -> None:
    """Every character recordable on ``fmt`` and none of ``forbidden`` (framing)."""
    if _allowed(fmt, forbidden).issuperset(value):
        return  # the usual case, answered in one set operation; else find the culprit
    base, limit = fmt.base, 1 << fmt.data_bits
    for position, char in enumerate(value):
        if not 0 <= ord(char) - base < limit or char in forbidden:  # fmt.allows, inlined
            raise BadCharacter(char, position, what)


@pure_cache(maxsize=32)
def _allowed(fmt: TrackFormat, forbidden: str) -> frozenset[str]:
    """The characters :func:`check_text` lets through (a pure function of its arguments)."""
    return frozenset(chr(fmt.base + code) for code in range(1 << fmt.data_bits)) - set(forbidden)
