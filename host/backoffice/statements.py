"""What a holder sees: balances as of a time, the history of an account and statements.
Every line says why value moved (reason), who caused it (source) and against whom
(counterparty account)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.schema import ledger_accounts, ledger_transfers
from host.backoffice.transfers import Balance

__all__ = ["Entry", "Statement", "balance_as_of", "history", "statement"]

_T = ledger_transfers


@dataclass(frozen=True, slots=True)
class Entry:
    """One transfer as seen from one account. ``posted`` and ``pending`` are the signed
    changes to that account's posted balance and to what is held for or against it."""

    transfer_id: str
    at: datetime
    kind: str
    reason: str
    source: str
    counterparty: str
    posted: int
    pending_debit: int
    pending_credit: int
    correlation_id: str | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "transfer": self.transfer_id, "at": self.at.isoformat(), "kind": self.kind,
            "reason": self.reason, "source": self.source, "counterparty": self.counterparty,
            "posted": self.posted, "pending_debit": self.pending_debit,
            "pending_credit": self.pending_credit, "correlation_id": self.correlation_id,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class Statement:
    """Opening balance, the entries of a period (after ``start``, up to ``end``), closing."""

    account_id: str
    asset: str
    start: datetime | None
    end: datetime
    opening: Balance
    entries: tuple[Entry, ...]
    closing: Balance

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account_id, "asset": self.asset,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat(), "opening": self.opening.as_dict(),
            "entries": [e.as_dict() for e in self.entries], "closing": self.closing.as_dict(),
        }


def balance_as_of(conn: Connection, account_id: str, at: datetime | None) -> Balance:
    """The account's balances counting every transfer dated at or before ``at``
    (``None``: the empty balance before anything happened)."""
    if at is None:
        return Balance(account_id, 0, 0, 0, 0)
    until = to_micros(at)
    sums = []
    for side in (_T.c.debit_account, _T.c.credit_account):
        query = select(
            func.coalesce(func.sum(_T.c.posted_amount), 0),
            func.coalesce(func.sum(_T.c.pending_delta), 0),
        ).where(side == account_id, _T.c.ts <= until)
        sums.append(conn.execute(query).one())
    (dpo, dpe), (cpo, cpe) = sums
    return Balance(account_id, int(dpo), int(cpo), int(dpe), int(cpe))


def history(
    conn: Connection,
    account_id: str,
    *,
    after: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> Iterator[Entry]:
    """Entries of one account in time order (ties in posting order)."""
    query = select(_T).where(or_(_T.c.debit_account == account_id,
                                 _T.c.credit_account == account_id))
    if after is not None:
        query = query.where(_T.c.ts > to_micros(after))
    if until is not None:
        query = query.where(_T.c.ts <= to_micros(until))
    query = query.order_by(_T.c.ts, _T.c.seq)
    if limit is not None:
        query = query.limit(limit)
    for row in conn.execute(query):
        yield _entry(row, account_id)


def statement(
    db: Database, account_id: str, *, end: datetime, start: datetime | None = None
) -> Statement:
    """A statement of ``account_id`` for the period (start, end]."""
    if start is not None and start > end:
        raise ValidationError("statement start is after its end")
    with db.read() as conn:
        row = conn.execute(
            select(ledger_accounts.c.asset).where(ledger_accounts.c.id == account_id)
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no account {account_id!r}")
        opening = balance_as_of(conn, account_id, start)
        entries = tuple(history(conn, account_id, after=start, until=end))
        closing = balance_as_of(conn, account_id, end)
    return Statement(account_id, row.asset, start, end, opening, entries, closing)


def _entry(row: Any, account_id: str) -> Entry:
    is_debit = row.debit_account == account_id
    return Entry(
        transfer_id=row.id,
        at=from_micros(row.ts),
        kind=row.kind,
        reason=row.reason,
        source=f"{row.source_kind}/{row.source_id}",
        counterparty=row.credit_account if is_debit else row.debit_account,
        posted=-row.posted_amount if is_debit else row.posted_amount,
        pending_debit=row.pending_delta if is_debit else 0,
        pending_credit=0 if is_debit else row.pending_delta,
        correlation_id=row.correlation_id,
        details=json.loads(row.details) if row.details else {},
    )
