"""What a holder and a merchant see of the settlement centre (F22–F25) and a member of the
service host's notice inbox. A holder: the three tiers (the virtual account with its credit
line, the capped settlement account, the bank account behind it), the bills it paid, the
orders it placed with their release conditions, the spending per category and month
against its budgets. A merchant: the orders held for it, to deliver and release. Every
function reads only the logged-in member's rows; an alliance without the centre's or the
notices' tables yet shows empty pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, case, select

from host.backoffice.centre import analysis
from host.backoffice.centre.bank import SimulatedBank
from host.backoffice.centre.holders import Holder
from host.backoffice.centre.release_codes import MAX_TRIES
from host.backoffice.centre.tables import sc_bills, sc_holders, sc_orders
from host.backoffice.clock import from_micros
from host.backoffice.database import Database
from host.backoffice.schema import ledger_accounts
from host.service.notices.schema import svc_inbox
from host.service.notices.store import InboxEntry, read_inbox

__all__ = ["consumer_centre", "inbox", "merchant_orders"]

_A, _O = ledger_accounts, sc_orders
#: the most rows a list shows (bills, orders)
_ROWS = 100


def _has(conn: Connection, table: Any) -> bool:
    return bool(conn.dialect.has_table(conn, table.name))


def consumer_centre(conn: Connection, holder_id: str) -> dict[str, Any]:
    """The holder's tiers, bills, orders and spending (nothing when it has no tiers)."""
    if not _has(conn, sc_holders):
        return {"holder": None}
    row = conn.execute(select(sc_holders).where(sc_holders.c.holder_id == holder_id)).first()
    if row is None:
        return {"holder": None}
    holder = Holder.from_row(row)
    bills = conn.execute(select(sc_bills).where(sc_bills.c.paid_by == holder_id)
                         .order_by(sc_bills.c.paid_at.desc()).limit(_ROWS)).all()
    months = analysis.spending(conn, holder)
    return {"holder": holder, "tiers": _tiers(conn, holder),
            "bills": [{"biller": b.biller_id, "number": b.number, "period": b.period,
                       "amount": b.amount, "at": from_micros(b.paid_at),
                       "receipt": b.transfer_id} for b in bills],
            "orders": _orders(conn, _O.c.holder_id == holder_id),
            "months": months, "budgets": analysis.budgets(conn, holder)}


def _tiers(conn: Connection, holder: Holder) -> dict[str, Any]:
    """Each tier's posted balance and what is held on it; the bank's word on the third
    (known here when the bank is the simulated one, whose accounts are on the ledger)."""
    bank = SimulatedBank.account(holder.bank_account)
    rows = {r.id: r for r in conn.execute(
        select(_A).where(_A.c.id.in_([holder.virtual, holder.settlement, bank])))}
    def tier(account: str) -> dict[str, int] | None:
        r = rows.get(account)
        if r is None:
            return None
        return {"posted": r.credits_posted - r.debits_posted, "held": r.debits_pending,
                "line": max(0, -(r.lower_bound or 0))}
    return {"virtual": tier(holder.virtual), "settlement": tier(holder.settlement),
            "bank": tier(bank), "accounts": (holder.virtual, holder.settlement)}


def _orders(conn: Connection, whose: Any) -> list[dict[str, Any]]:
    """Orders (held first, then the newest), each with its release condition."""
    held_first = case((_O.c.state == "held", 0), else_=1)
    rows = conn.execute(select(_O).where(whose)
                        .order_by(held_first, _O.c.created_at.desc()).limit(_ROWS)).all()
    return [{"order": r.id, "holder": r.holder_id, "merchant": r.merchant_id,
             "amount": r.amount, "released": r.released, "held": r.amount - r.released
             if r.state == "held" else 0, "state": r.state, "condition": r.condition,
             "release_at": None if r.release_at is None else from_micros(r.release_at),
             "expires_at": from_micros(r.expires_at), "category": r.category,
             "code_locked": r.condition == "code" and r.code_tries >= MAX_TRIES,
             "placed": from_micros(r.created_at)} for r in rows]


def merchant_orders(conn: Connection, merchant_id: str) -> dict[str, Any]:
    """The orders placed with the merchant: what is held for it and on what condition."""
    if not _has(conn, sc_orders):
        return {"orders": []}
    return {"orders": _orders(conn, _O.c.merchant_id == merchant_id)}


def inbox(db: Database, member_id: str, *, at: dt.datetime) -> list[InboxEntry]:
    """The member's inbox, newest first; what was never shown is marked read now (so it
    shows as new once)."""
    with db.read() as conn:
        if not _has(conn, svc_inbox):
            return []
    return list(reversed(read_inbox(db, member_id, at=at, unread_only=False)))[:_ROWS]
