"""Errors of personalisation; each maps to one documented exit code in the CLI.

Messages name the field, row or card step at fault and never carry keys or PINs.
A card refusing the keys raises GlobalPlatform's :class:`~host.gp.errors.AuthenticationError`
(re-exported here), with the chip it happened on.
"""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError
from host.gp.errors import AuthenticationError

__all__ = [
    "AlreadyIssuedError",
    "AlreadyPersonalisedError",
    "AuditJournalError",
    "AuthenticationError",
    "CardStateError",
    "HolderError",
    "NumberInUseError",
    "NumberStoreError",
    "PersoError",
    "PinMailerError",
    "ProfileError",
    "VerificationMismatch",
]


class PersoError(DualcardError):
    """Base of personalisation errors."""


class ProfileError(PersoError, LocalError, ValueError):
    """The profile is invalid; ``field`` is the dotted path of the offending entry."""

    def __init__(self, field: str, message: str, *, source: str = "profile") -> None:
        self.field = field
        super().__init__(f"{source}: {field}: {message}")


class HolderError(PersoError, LocalError, ValueError):
    """A holder record (CSV row or JSON) is invalid; names the row and the column."""

    def __init__(self, where: str, column: str, message: str) -> None:
        self.where = where
        self.column = column
        super().__init__(f"{where}, column {column!r}: {message}")


class AuditJournalError(PersoError, LocalError, ValueError):
    """The audit file cannot serve as this batch's journal (other batch, damaged)."""


class CardStateError(PersoError, RemoteError):
    """The card is in a state personalisation cannot continue from (reported, not issued)."""


class AlreadyPersonalisedError(CardStateError):
    """The card is already SECURED with this issuer's keys: it is not personalised twice."""


class VerificationMismatch(PersoError, RemoteError):
    """Reading the card back after personalisation did not give what was written."""


class PinMailerError(PersoError, LocalError, ValueError):
    """A PIN mailer file that is not one (another file at the mailer's path)."""


class NumberInUseError(PersoError, LocalError, ValueError):
    """A PAN or card identity asked for is already given to another card (or holder)."""


class NumberStoreError(PersoError, LocalError, ValueError):
    """The issuer's number store cannot be opened or does not hold what it should."""


class AlreadyIssuedError(CardStateError):
    """The card's numbers are already on an issued card, and the card in hand is not it."""
