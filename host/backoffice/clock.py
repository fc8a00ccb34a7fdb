"""Time as the ledger sees it: always injected, always timezone-aware, stored as integer
microseconds since the Unix epoch (UTC) so SQLite and PostgreSQL compare it the same way.

Core logic never reads the system clock; only edges (the CLI) build a :class:`SystemClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from host.backoffice.errors import ValidationError

__all__ = ["Clock", "FixedClock", "SystemClock", "from_micros", "require_aware", "to_micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    """Anything that can tell the current time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, for the edges of the program only."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: tests and reproducible runs."""

    def __init__(self, at: datetime) -> None:
        self._at = require_aware(at)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> datetime:
        self._at = self._at + delta
        return self._at

    def set(self, at: datetime) -> None:
        self._at = require_aware(at)


def require_aware(at: datetime) -> datetime:
    """Refuse naive datetimes: a ledger time without a zone is ambiguous."""
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValidationError(f"time must be a timezone-aware datetime, got {at!r}")
    return at


def to_micros(at: datetime) -> int:
    """Microseconds since the epoch, exact (no float on the way)."""
    delta = require_aware(at) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Inverse of :func:`to_micros`, in UTC."""
    return _EPOCH + timedelta(microseconds=micros)
