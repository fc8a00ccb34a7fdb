"""Top-ups of a settlement account from the holder's bank, in two steps that survive a crash.

1. :func:`request_topups`, inside the write transaction of the posting that left the account
   low: under the account's lock, :func:`~.topup_rule.topup_due` says how much; a ``requested``
   row and a ledger *hold* crediting the settlement account are written together. The hold
   counts in the account's pending credits, so the next evaluation (another process, a
   moment later) sees it and asks nothing more, and the ledger's upper bound (the cap)
   refuses anything that could take the account above the cap.
2. :func:`resolve_topup`, after the commit: the bank is asked with the top-up's id as its
   idempotency key; its answer posts the hold (``completed``) or voids it (``failed``, with
   a ``topup_failed`` notice in the outbox). A bank that does not answer leaves the row
   ``requested`` with the error noted; :func:`pending_topups` finds such rows so that
   ``dualcard settle topup retry`` asks again with the same id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from host.backoffice.assets import Asset
from host.backoffice.centre.bank import BankAnswer, BankGateway
from host.backoffice.centre.errors import BankUnavailableError
from host.backoffice.centre.holders import Holder, find_holder
from host.backoffice.centre.tables import sc_topups
from host.backoffice.centre.tiers import BANK_ACCOUNT
from host.backoffice.centre.topup_rule import topup_due
from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError
from host.backoffice.ledger import Ledger
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.posting import AccountState
from host.backoffice.schema import FORMAT_VERSION, ledger_accounts
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["TopUp", "pending_topups", "request_topup", "request_topups", "resolve_topup",
           "topups_of"]

_SOURCE = Source(SourceKind.SYSTEM, "centre")


@dataclass(frozen=True, slots=True)
class TopUp:
    id: str
    holder_id: str
    amount: int
    state: str
    origin: str
    bank_reference: str | None
    failure: str | None

    @classmethod
    def from_row(cls, row: Any) -> TopUp:
        return cls(row.id, row.holder_id, row.amount, row.state, row.origin,
                   row.bank_reference, row.failure)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "holder": self.holder_id, "amount": self.amount,
                "state": self.state, "origin": self.origin,
                "bank_reference": self.bank_reference, "failure": self.failure}


def request_topups(
    conn: Connection, ledger: Ledger, holder_ids: Sequence[str], *, at: datetime
) -> list[TopUp]:
    """Ask for the top-ups now due (see the module docstring), in the caller's transaction."""
    asked = []
    for holder_id in sorted(set(holder_ids)):
        holder = find_holder(conn, holder_id)
        [row] = ledger.db.lock_rows(conn, ledger_accounts, [holder.settlement])
        amount = topup_due(AccountState.from_row(row).balance(), cap=holder.cap,
                           threshold=holder.threshold)
        if amount:
            asked.append(request_topup(conn, ledger, holder, amount, origin="auto", at=at))
    return asked


def request_topup(
    conn: Connection, ledger: Ledger, holder: Holder, amount: int, *, origin: str, at: datetime
) -> TopUp:
    """Write one top-up request and its hold; the cap refuses an amount that does not fit
    (:class:`~host.backoffice.errors.TransferRejectedError`, nothing written)."""
    ledger.db.lock_rows(conn, ledger_accounts, [holder.settlement])
    count = conn.execute(select(func.count()).select_from(sc_topups)
                         .where(sc_topups.c.holder_id == holder.holder_id)).scalar_one()
    topup_id = f"topup/{holder.holder_id}/{count + 1}"
    ledger.apply(conn, [Transfer.hold(
        _hold_id(topup_id), BANK_ACCOUNT, holder.settlement, amount, Asset.CNY, _SOURCE,
        reason=Reason.TOP_UP, details={"topup": topup_id},
    )], at=at, all_or_nothing=True)
    conn.execute(insert(sc_topups).values(
        id=topup_id, holder_id=holder.holder_id, amount=amount, state="requested",
        origin=origin, requested_at=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return TopUp(topup_id, holder.holder_id, amount, "requested", origin, None, None)


def resolve_topup(
    db: Database, ledger: Ledger, bank: BankGateway, topup_id: str, *, at: datetime
) -> TopUp:
    """Ask the bank for a requested top-up and post or void its hold (a resolved one is
    answered as it stands)."""
    with db.read() as conn:
        topup = _topup(conn, topup_id)
        bank_account = find_holder(conn, topup.holder_id).bank_account
    if topup.state != "requested":
        return topup
    try:
        answer = bank.debit(topup.id, bank_account, topup.amount, at=at)
    except BankUnavailableError as exc:
        with db.write() as conn:
            conn.execute(update(sc_topups).where(sc_topups.c.id == topup_id,
                                                 sc_topups.c.state == "requested")
                         .values(failure=f"bank unavailable: {exc}"))
            return _topup(conn, topup_id)
    with db.write() as conn:
        return _record_answer(conn, ledger, topup_id, answer, at=at)


def _record_answer(
    conn: Connection, ledger: Ledger, topup_id: str, answer: BankAnswer, *, at: datetime
) -> TopUp:
    db = ledger.db
    db.lock_key(conn, f"sc-topup:{topup_id}")
    topup = _topup(conn, topup_id)
    if topup.state != "requested":  # another process resolved it meanwhile
        return topup
    hold = _hold_id(topup_id)
    if answer.accepted:
        move = Transfer.post(f"{hold}:post", hold, _SOURCE)
        state, failure = "completed", None
    else:
        move = Transfer.void(f"{hold}:void", hold, _SOURCE)
        state, failure = "failed", answer.reason
        post_notices(conn, [Notice(f"topup-failed:{topup_id}", topup.holder_id,
                                   MessageKind.TOPUP_FAILED,
                                   {"topup": topup_id, "amount": topup.amount,
                                    "reason": answer.reason})], at=at)
    ledger.apply(conn, [move], at=at, all_or_nothing=True)
    conn.execute(update(sc_topups).where(sc_topups.c.id == topup_id).values(
        state=state, failure=failure, bank_reference=answer.reference,
        resolved_at=to_micros(at)))
    return _topup(conn, topup_id)


def pending_topups(db: Database) -> list[str]:
    """Ids of top-ups still waiting for the bank's answer."""
    with db.read() as conn:
        query = select(sc_topups.c.id).where(sc_topups.c.state == "requested")
        return list(conn.execute(query.order_by(sc_topups.c.requested_at)).scalars())


def topups_of(db: Database, holder_id: str) -> list[TopUp]:
    with db.read() as conn:
        query = select(sc_topups).where(sc_topups.c.holder_id == holder_id)
        return [TopUp.from_row(r) for r in conn.execute(query.order_by(sc_topups.c.requested_at,
                                                                     sc_topups.c.id))]


def _topup(conn: Connection, topup_id: str) -> TopUp:
    row = conn.execute(select(sc_topups).where(sc_topups.c.id == topup_id)).first()
    if row is None:
        raise NotFoundError(f"no top-up {topup_id!r}")
    return TopUp.from_row(row)


def _hold_id(topup_id: str) -> str:
    return f"sc:{topup_id}"
