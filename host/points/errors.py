"""Errors of the points host library; card status words stay :class:`~apdu_specs.sw.CardError`."""

from __future__ import annotations

from typing import Any

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "KeyMismatchError",
    "PointsError",
    "PointsUsageError",
    "PurseDataError",
    "PurseMACError",
    "TransactionInterrupted",
    "WrongPINError",
]


class PointsError(DualcardError):
    """Base of the points library's own errors."""


class PointsUsageError(PointsError, LocalError):
    """Bad input or use: a key file or key that cannot be used, an argument out of range,
    a call out of order."""


class PurseDataError(PointsError, RemoteError):
    """What the card returned does not make a usable purse application (an answer that does
    not parse, a purse application that is not personalised)."""


class PurseMACError(PointsError, RemoteError):
    """A MAC1, MAC2 or TAC from the other side is wrong: stop, the card or host is not genuine."""


class KeyMismatchError(PointsError, RemoteError):
    """The card uses a key version or algorithm the host's keys do not have."""


class WrongPINError(PointsError, RemoteError):
    """VERIFY failed; ``tries_left`` more attempts before the PIN blocks."""

    def __init__(self, tries_left: int) -> None:
        self.tries_left = tries_left
        super().__init__(f"wrong PIN, {tries_left} tries left")


class TransactionInterrupted(PointsError, RemoteError):
    """The card went away while completing a load or purchase: the outcome is unknown.

    ``pending`` is what :meth:`~host.points.client.PointsClient.recover_load` or
    ``recover_purchase`` needs after the card is back, to learn (from GET TRANSACTION
    PROVE) whether the movement happened.
    """

    def __init__(self, message: str, pending: Any) -> None:
        self.pending = pending
        super().__init__(message)
