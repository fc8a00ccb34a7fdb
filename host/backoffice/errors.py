"""Typed errors of the back office, kept in :mod:`host.records.errors` (a terminal catches
them without importing the ledger) and re-exported here under their old name."""

from __future__ import annotations

from host.records.errors import (
    AccountExistsError,
    BackOfficeError,
    BatchRejectedError,
    BoundsViolationError,
    ConfigurationError,
    DayClosedError,
    IdReusedError,
    InvalidAmountError,
    InvalidRecordError,
    LedgerError,
    NotFoundError,
    RecordRejection,
    TransferRejectedError,
    ValidationError,
)

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
