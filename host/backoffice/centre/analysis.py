"""Spending analysis (F23): what left a holder's virtual account for merchants and billers,
by category (from the merchant category code of each order, the biller's category) and by
month in the alliance's time zone; monthly budgets per category, and a reminder in the
outbox the first time a month's spending in a category reaches its budget."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from host.backoffice.assets import check_amount
from host.backoffice.centre.holders import Holder
from host.backoffice.centre.tables import sc_budgets
from host.backoffice.clock import from_micros
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.schema import FORMAT_VERSION, bo_outbox, ledger_transfers
from host.backoffice.settings import load_settings
from host.backoffice.transfers import Reason

__all__ = ["check_budgets", "set_budget", "spending"]

_SPENT = (Reason.ORDER_PAYMENT.value, Reason.BILL_PAYMENT.value)
_T = ledger_transfers


def spending(conn: Connection, holder: Holder) -> dict[str, dict[str, int]]:
    """``{month: {category: fen}}`` of money that left the virtual account for purchases and
    bills (posted amounts: a held order counts once released)."""
    tz = load_settings(conn).tz
    query = select(_T.c.posted_amount, _T.c.details, _T.c.ts).where(
        _T.c.debit_account == holder.virtual, _T.c.reason.in_(_SPENT), _T.c.posted_amount > 0)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for amount, details, ts in conn.execute(query):
        category = json.loads(details or "{}").get("category", "other")
        month = from_micros(ts).astimezone(tz).strftime("%Y-%m")
        totals[month][category] += amount
    return {m: dict(sorted(c.items())) for m, c in sorted(totals.items())}


def set_budget(conn: Connection, holder: Holder, category: str, monthly: int) -> None:
    check_amount(monthly, what="monthly budget")
    key = (sc_budgets.c.holder_id == holder.holder_id) & (sc_budgets.c.category == category)
    if conn.execute(select(sc_budgets).where(key)).first() is None:
        conn.execute(insert(sc_budgets).values(holder_id=holder.holder_id, category=category,
                                               monthly=monthly, format_version=FORMAT_VERSION))
    else:
        conn.execute(update(sc_budgets).where(key).values(monthly=monthly))


def budgets(conn: Connection, holder: Holder) -> dict[str, int]:
    query = select(sc_budgets.c.category, sc_budgets.c.monthly).where(
        sc_budgets.c.holder_id == holder.holder_id)
    return {c: m for c, m in conn.execute(query)}


def check_budgets(conn: Connection, holder: Holder, *, at: datetime) -> list[dict[str, Any]]:
    """Write a reminder for each budget this month's spending has reached (once a month per
    category); returns the reminders written now."""
    limits = budgets(conn, holder)
    if not limits:
        return []
    month = at.astimezone(load_settings(conn).tz).strftime("%Y-%m")
    spent = spending(conn, holder).get(month, {})
    written = []
    for category, monthly in sorted(limits.items()):
        total = spent.get(category, 0)
        key = f"budget:{holder.holder_id}:{category}:{month}"
        if total < monthly or _exists(conn, key):
            continue
        body = {"category": category, "month": month, "spent": total, "budget": monthly}
        post_notices(conn, [Notice(key, holder.holder_id, MessageKind.BUDGET_CROSSED, body)],
                     at=at)
        written.append(body)
    return written


def _exists(conn: Connection, dedup_key: str) -> bool:
    query = select(bo_outbox.c.seq).where(bo_outbox.c.dedup_key == dedup_key)
    return conn.execute(query).first() is not None
