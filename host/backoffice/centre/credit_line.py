"""Recomputing a holder's credit line (:mod:`.credit_rule`) from the ledger and moving the
virtual account's lower bound, with the change logged beside the back office's other credit
changes (``bo_credit_changes``, rule ``centre-dynamic-line``) and a notice to the holder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select

from host.backoffice.centre.credit_rule import CreditInputs, credit_line
from host.backoffice.centre.holders import Holder
from host.backoffice.centre.tables import sc_topups
from host.backoffice.clock import to_micros
from host.backoffice.ledger import Ledger
from host.backoffice.members import Role, account_id
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.schema import FORMAT_VERSION, bo_credit_changes, ledger_transfers
from host.backoffice.transfers import Reason

__all__ = ["LineChange", "review_line"]

RULE = "centre-dynamic-line"
_T = ledger_transfers


@dataclass(frozen=True, slots=True)
class LineChange:
    holder_id: str
    old: int
    new: int
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {"holder": self.holder_id, "old_line": self.old, "new_line": self.new,
                "changed": self.old != self.new, "explanation": self.explanation}


def review_line(conn: Connection, ledger: Ledger, holder: Holder, *, at: datetime) -> LineChange:
    account = ledger.account(holder.virtual, conn=conn)
    old = account.credit_line or 0
    inputs = _inputs(conn, ledger, holder, at, in_use=max(0, -account.balance.available))
    new, why = credit_line(inputs)
    if new != old:
        ledger.set_bounds(conn, holder.virtual, lower_bound=-new, upper_bound=None,
                          reason=f"{RULE}: {why}", at=at)
        conn.execute(insert(bo_credit_changes).values(
            member_id=holder.holder_id, account_id=holder.virtual, old_limit=old,
            new_limit=new, rule=RULE, explanation=why, ts=to_micros(at),
            format_version=FORMAT_VERSION))
        post_notices(conn, [Notice(
            f"credit-line:{holder.holder_id}:{to_micros(at)}:{new}", holder.holder_id,
            MessageKind.CREDIT_LINE_CHANGED, {"old": old, "new": new, "why": why})], at=at)
    return LineChange(holder.holder_id, old, new, why)


def _inputs(conn: Connection, ledger: Ledger, holder: Holder, at: datetime, *,
            in_use: int) -> CreditInputs:
    since = to_micros(at - timedelta(days=90))
    points_account = account_id(holder.holder_id, Role.CONSUMPTION_POINTS)
    points = ledger.account(points_account, conn=conn).balance.posted
    spent = conn.execute(select(func.coalesce(func.sum(_T.c.posted_amount), 0)).where(
        _T.c.debit_account == holder.virtual, _T.c.ts >= since,
        _T.c.reason.in_((Reason.ORDER_PAYMENT.value, Reason.BILL_PAYMENT.value)))).scalar_one()
    failed = conn.execute(select(func.count()).select_from(sc_topups).where(
        sc_topups.c.holder_id == holder.holder_id, sc_topups.c.state == "failed",
        sc_topups.c.requested_at >= since)).scalar_one()
    return CreditInputs(points, int(spent), int(failed), in_use)
