"""Typed errors of the back office. Library code raises these; the CLI turns them into one line
and a non-zero exit code. Nothing here ever lets IndexError/KeyError escape on bad input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "AccountExistsError",
    "BackOfficeError",
    "BatchRejectedError",
    "BoundsViolationError",
    "ConfigurationError",
    "DayClosedError",
    "IdReusedError",
    "InvalidAmountError",
    "InvalidRecordError",
    "LedgerError",
    "NotFoundError",
    "RecordRejection",
    "TransferRejectedError",
    "ValidationError",
]


class BackOfficeError(DualcardError):
    """Base of every back-office error."""


class ValidationError(BackOfficeError, LocalError):
    """Input that can never be accepted as given (bad ids, bad shapes, bad values)."""


class InvalidAmountError(ValidationError):
    """An amount that is not a positive integer in minor units, or out of range."""


class NotFoundError(BackOfficeError, LocalError):
    """A member, account, agreement, card or transfer that does not exist."""


class ConfigurationError(BackOfficeError, LocalError):
    """The database or the environment is not set up for the requested operation."""


class LedgerError(BackOfficeError):
    """Base of ledger-level refusals (an id reused for another intent is the caller's
    :class:`LocalError`; a refusal by the ledger's state is a :class:`RemoteError`)."""


class AccountExistsError(LedgerError, LocalError):
    """An account id reused with different attributes."""


class IdReusedError(LedgerError, LocalError):
    """A client-supplied id was reused for a different intent (TigerBeetle's
    ``exists_with_different_*``). Retrying cannot help: this is a bug on the client side."""

    def __init__(self, kind: str, item_id: str, field: str) -> None:
        self.kind = kind
        self.item_id = item_id
        self.field = field
        self.code = f"exists_with_different_{field}"
        super().__init__(
            f"{kind} {item_id!r} already exists with a different {field} ({self.code})"
        )


class TransferRejectedError(LedgerError, RemoteError):
    """One or more transfers of an all-or-nothing request failed; nothing was posted."""

    def __init__(self, codes: Mapping[str, str]) -> None:
        self.codes = dict(codes)
        first = next(iter(self.codes.items()), ("?", "?"))
        more = f" (+{len(self.codes) - 1} more)" if len(self.codes) > 1 else ""
        super().__init__(f"transfer {first[0]!r} rejected: {first[1]}{more}")


class BoundsViolationError(LedgerError, RemoteError):
    """A bound change that the account's current balance already breaks."""


class DayClosedError(LedgerError, RemoteError):
    """Clearing into a business day whose settlement has already been posted."""


class InvalidRecordError(ValidationError):
    """A terminal batch or card record that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class RecordRejection:
    """Why one record of a terminal batch was refused (kept as data, not raised)."""

    record_id: str
    reason: str


class BatchRejectedError(LedgerError, RemoteError):
    """A terminal batch was rejected whole; ``rejections`` says why, record by record."""

    def __init__(self, batch_id: str, rejections: Sequence[RecordRejection]) -> None:
        self.batch_id = batch_id
        self.rejections = list(rejections)
        head = "; ".join(f"{r.record_id}: {r.reason}" for r in self.rejections[:3])
        more = f" (+{len(self.rejections) - 3} more)" if len(self.rejections) > 3 else ""
        super().__init__(f"batch {batch_id!r} rejected: {head}{more}")
