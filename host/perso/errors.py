"""Errors of personalisation; each maps to one documented exit code in the CLI.

Messages name the field, row or card step at fault and never carry keys or PINs.
"""

from __future__ import annotations

__all__ = [
    "AlreadyIssuedError",
    "AlreadyPersonalisedError",
    "AuthenticationError",
    "CardStateError",
    "HolderError",
    "JournalError",
    "NumberInUseError",
    "NumberStoreError",
    "PersoError",
    "ProfileError",
    "VerificationMismatch",
]


class PersoError(Exception):
    """Base of personalisation errors."""


class ProfileError(PersoError, ValueError):
    """The profile is invalid; ``field`` is the dotted path of the offending entry."""

    def __init__(self, field: str, message: str, *, source: str = "profile") -> None:
        self.field = field
        super().__init__(f"{source}: {field}: {message}")


class HolderError(PersoError, ValueError):
    """A holder record (CSV row or JSON) is invalid; names the row and the column."""

    def __init__(self, where: str, column: str, message: str) -> None:
        self.where = where
        self.column = column
        super().__init__(f"{where}, column {column!r}: {message}")


class JournalError(PersoError, ValueError):
    """The audit file cannot serve as this batch's journal (other batch, damaged)."""


class AuthenticationError(PersoError):
    """The card refused our keys or its cryptogram is wrong: stop, do not retry.

    Retrying with wrong keys counts failures on the card and may lock its key set.
    """


class CardStateError(PersoError):
    """The card is in a state personalisation cannot continue from (reported, not issued)."""


class AlreadyPersonalisedError(CardStateError):
    """The card is already SECURED with this issuer's keys: it is not personalised twice."""


class VerificationMismatch(PersoError):
    """Reading the card back after personalisation did not give what was written."""


class NumberInUseError(PersoError, ValueError):
    """A PAN or card identity asked for is already given to another card (or holder)."""


class NumberStoreError(PersoError, ValueError):
    """The issuer's number store cannot be opened or does not hold what it should."""


class AlreadyIssuedError(CardStateError):
    """The card's numbers are already on an issued card, and the card in hand is not it."""
