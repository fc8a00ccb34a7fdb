"""What each role sees, read from the back office: every function takes the logged-in
member's id and reads only what that member owns (an operator, speaking for the alliance,
reads everyone's). An object named in a URL (an account, a batch) is looked up together
with its owner, and another member's answers as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Select, func, select, union_all

from host.backoffice.agreements import list_agreements
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import on_driver
from host.backoffice.members import (
    ALLIANCE_ID,
    PURSE_ROLE,
    Role,
    account_id,
    find_member,
    list_members,
)
from host.backoffice.rates import Rounding
from host.backoffice.schema import (
    bo_authorisations,
    bo_batches,
    bo_card_records,
    bo_credit_changes,
    bo_issuer_scripts,
    bo_outbox,
    bo_settlements,
    ledger_accounts,
    ledger_transfers,
)
from host.backoffice.settings import load_settings
from host.backoffice.terminals import terminal_states
from host.backoffice.transfers import Reason

__all__ = ["Entry", "batch_of", "consumer_view", "history_of", "insurer_view", "merchant_view",
           "operator_view"]

_T, _A = ledger_transfers, ledger_accounts
_HISTORY = 100


@dataclass(frozen=True, slots=True)
class Entry:
    """One transfer as its account's owner sees it (``amount`` signed: + in, - out)."""

    at: dt.datetime
    reason: str
    source: str
    counterparty: str
    amount: int
    details: dict[str, Any] = field(default_factory=dict)


# A holder's dashboard, in plain SQL on the driver (:func:`on_driver`): the portal's most
# asked page runs all of these per request, and SQLAlchemy's execution machinery costs
# several times what SQLite does for each (every one is a lookup on an index: the owner's,
# the card's, the member's, the recipient's).
_AU, _CC, _IS, _OB = (bo_authorisations.name, bo_credit_changes.name, bo_issuer_scripts.name,
                      bo_outbox.name)
_OWNED = (f"SELECT id, credits_posted, debits_posted, lower_bound FROM {_A.name} "
          "WHERE owner_id = ?")
_CREDIT_CHANGES = (f"SELECT explanation, ts FROM {_CC} WHERE member_id = ? "
                   "ORDER BY seq DESC LIMIT 10")
_PENDING_LIMIT = (f"SELECT new_limit FROM {_IS} WHERE card_id = ? AND delivered_at IS NULL "
                  "ORDER BY change_seq DESC LIMIT 1")
_NOTICES = (f"SELECT created_at, kind, body FROM {_OB} WHERE recipient_id = ? "
            "ORDER BY seq DESC LIMIT 10")
_LAST_ONLINE = (f"SELECT ts, merchant_id, terminal_id, decision, application, amount FROM {_AU} "
                "WHERE card_id = ? ORDER BY ts DESC LIMIT 1")
_SPENDING = (f"SELECT merchant_id, count(*), sum(amount) FROM {_AU} WHERE card_id = ? "
             "AND decision = 'approve' AND ts > ? AND ts <= ? "
             "GROUP BY merchant_id ORDER BY merchant_id")


def _owned(conn: Connection, member_id: str) -> dict[str, tuple[int, int | None]]:
    """(posted balance, lower bound) of every account the member owns, by account id (one
    query, on the owner's index)."""
    rows = on_driver(conn, _OWNED, (member_id,))
    return {r.id: (r.credits_posted - r.debits_posted, r.lower_bound) for r in rows}


def _credit(conn: Connection, member_id: str,
            owned: dict[str, tuple[int, int | None]]) -> dict[str, Any]:
    balance, lower = owned.get(account_id(member_id, Role.CREDIT_LINE), (0, 0))
    changes = on_driver(conn, _CREDIT_CHANGES, (member_id,))
    return {"line": max(0, -(lower or 0)), "used": max(0, -balance),
            "changes": [(from_micros(c.ts), c.explanation) for c in changes]}


def consumer_view(conn: Connection, member_id: str, now: dt.datetime) -> dict[str, Any]:
    """A holder's purses, credit line with its reasons, card (as last seen online), the
    month's card spending per merchant, and notices."""
    member = find_member(conn, member_id)
    owned = _owned(conn, member_id)
    purses = [(asset.value, account_id(member_id, role),
               owned.get(account_id(member_id, role), (0, 0))[0])
              for asset, role in PURSE_ROLE.items()]
    pending = on_driver(conn, _PENDING_LIMIT, (member.card_id,)).first()
    return {"member": member, "purses": purses, "credit": _credit(conn, member_id, owned),
            "pending_limit": None if pending is None else pending.new_limit,
            "notices": _notices(conn, member_id),
            **_card_activity(conn, member.card_id or "", now)}


def _card_activity(conn: Connection, card_id: str, now: dt.datetime) -> dict[str, Any]:
    """The card's last online authorisation, and what the issuer approved in the last 30
    days per merchant (the holder's spending, F23's analysis)."""
    last = on_driver(conn, _LAST_ONLINE, (card_id,)).first()
    spending = on_driver(conn, _SPENDING, (card_id, to_micros(now - dt.timedelta(days=30)),
                                           to_micros(now)))
    return {"last_online": None if last is None else {**last._asdict(), "at": from_micros(last.ts)},
            "spending": [(str(m or "-"), int(n), int(total)) for m, n, total in spending]}


def _notices(conn: Connection, member_id: str) -> list[tuple[dt.datetime, str, dict[str, Any]]]:
    rows = on_driver(conn, _NOTICES, (member_id,))
    return [(from_micros(r.created_at), r.kind, json.loads(r.body)) for r in rows]


def _latest_transfers(account: str) -> Select[Any]:
    """The account's latest transfers, newest first: the latest of its debits and the latest
    of its credits, each read in its index's order and only as far as the page shows, then
    merged. (One query for "debit or credit" reads every transfer of the account to sort
    them: a merchant's account at a million transfers.)"""
    def side(column: Any) -> Any:
        return (select(_T).where(column == account).order_by(_T.c.ts.desc(), _T.c.seq.desc())
                .limit(_HISTORY).subquery())
    both = union_all(select(side(_T.c.debit_account)),
                     select(side(_T.c.credit_account))).subquery()
    return select(both).order_by(both.c.ts.desc(), both.c.seq.desc()).limit(_HISTORY)


def history_of(conn: Connection, member_id: str, account: str,
               *, operator: bool = False) -> tuple[str, list[Entry]] | None:
    """The latest entries of ``account`` (its asset first), or None when the account is
    not the member's (an operator may read any)."""
    row = conn.execute(select(_A.c.asset, _A.c.owner_id).where(_A.c.id == account)).first()
    if row is None or (row.owner_id != member_id and not operator):
        return None
    entries = []
    for t in conn.execute(_latest_transfers(account)):
        out = t.debit_account == account
        entries.append(Entry(from_micros(t.ts), t.reason, f"{t.source_kind}/{t.source_id}",
                             t.credit_account if out else t.debit_account,
                             -t.posted_amount if out else t.posted_amount,
                             json.loads(t.details) if t.details else {}))
    return row.asset, entries


def _reason_sum(conn: Connection, reason: Reason, side: Any, account: str,
                start: int, end: int) -> int:
    query = select(func.coalesce(func.sum(_T.c.posted_amount), 0)).where(
        side == account, _T.c.reason == reason.value, _T.c.ts >= start, _T.c.ts < end)
    return int(conn.execute(query).scalar_one())


def merchant_view(conn: Connection, member_id: str, now: dt.datetime) -> dict[str, Any]:
    """A merchant's day: batches cleared, the live settlement position, totals, credit,
    terminals, settled days."""
    settings = load_settings(conn)
    day = settings.business_day(now)
    start, end = (to_micros(t) for t in settings.day_bounds(day))
    issued = account_id(member_id, Role.POINTS_ISSUED)
    redeemed = account_id(member_id, Role.POINTS_REDEEMED)
    awarded = _reason_sum(conn, Reason.EARN, _T.c.debit_account, issued, start, end)
    taken = _reason_sum(conn, Reason.REDEEM, _T.c.credit_account, redeemed, start, end)
    owned = _owned(conn, member_id)
    credit_points = account_id(member_id, Role.MERCHANT_CREDIT_POINTS)
    funding = settings.point_value.apply(awarded, Rounding.UP)
    payout = settings.point_value.apply(taken, Rounding.DOWN)
    return {
        "member": find_member(conn, member_id), "day": day.isoformat(),
        "batches": _batches(conn, member_id, day.isoformat()),
        "position": {"awarded": awarded, "redeemed": taken, "funding": funding,
                     "payout": payout, "net": payout - funding},
        "totals": {"awarded": -owned.get(issued, (0, 0))[0],
                   "redeemed": owned.get(redeemed, (0, 0))[0]},
        "credit_points": owned.get(credit_points, (0, 0))[0],
        "credit": _credit(conn, member_id, owned),
        "terminals": terminal_states(conn, member_id),
        "settled": conn.execute(select(bo_settlements)
                                .where(bo_settlements.c.merchant_id == member_id)
                                .order_by(bo_settlements.c.business_day.desc()).limit(14)).all(),
        "accounts": {"issued": issued, "redeemed": redeemed, "credit_points": credit_points,
                     "cny": account_id(member_id, Role.CNY)},
    }


def _batches(conn: Connection, merchant_id: str, day: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(bo_batches.c.id, bo_batches.c.terminal_id, bo_batches.c.summary,
                               bo_batches.c.ts)
                        .where(bo_batches.c.merchant_id == merchant_id,
                               bo_batches.c.business_day == day)
                        .order_by(bo_batches.c.ts))
    return [{"id": r.id, "terminal": r.terminal_id, "at": from_micros(r.ts),
             **json.loads(r.summary)} for r in rows]


def batch_of(conn: Connection, member_id: str, batch_id: str,
             *, operator: bool = False) -> dict[str, Any] | None:
    """One batch with its records counted by type and purse; None if not the merchant's."""
    row = conn.execute(select(bo_batches).where(bo_batches.c.id == batch_id)).first()
    if row is None or (row.merchant_id != member_id and not operator):
        return None
    counts = conn.execute(
        select(bo_card_records.c.record_type, bo_card_records.c.purse, func.count(),
               func.sum(bo_card_records.c.amount))
        .where(bo_card_records.c.batch_id == batch_id)
        .group_by(bo_card_records.c.record_type, bo_card_records.c.purse)
        .order_by(bo_card_records.c.record_type, bo_card_records.c.purse)).all()
    return {"id": row.id, "terminal": row.terminal_id, "day": row.business_day,
            "at": from_micros(row.ts), "summary": json.loads(row.summary),
            "records": [tuple(c) for c in counts]}


def insurer_view(conn: Connection, member_id: str) -> dict[str, Any]:
    """Premiums paid to the insurer with points (F5, F20), newest first, and per policy."""
    cny = account_id(member_id, Role.CNY)
    rows = conn.execute(select(_T.c.ts, _T.c.posted_amount, _T.c.source_id, _T.c.details)
                        .where(_T.c.credit_account == cny, _T.c.reason == Reason.PREMIUM.value)
                        .order_by(_T.c.ts.desc(), _T.c.seq.desc()).limit(_HISTORY)).all()
    premiums = [(from_micros(r.ts), json.loads(r.details or "{}").get("policy", ""),
                 r.source_id, r.posted_amount) for r in rows]
    per_policy: Counter[str] = Counter()
    for _, policy, _, amount in premiums:
        per_policy[policy] += amount
    total = _reason_sum(conn, Reason.PREMIUM, _T.c.credit_account, cny, 0, 2**62)
    return {"member": find_member(conn, member_id), "premiums": premiums,
            "per_policy": sorted(per_policy.items()), "total": total, "account": cny}


def operator_view(conn: Connection) -> dict[str, Any]:
    """The alliance: its members and agreements, terminals, the settled days (the day's
    funding from merchants against the payouts to them), and the outbox's delivery state."""
    members = [m for m in list_members(conn) if m.id != ALLIANCE_ID]
    rows = conn.execute(select(bo_outbox.c.kind, func.count(), func.count(bo_outbox.c.delivered_at))
                        .group_by(bo_outbox.c.kind).order_by(bo_outbox.c.kind)).all()
    oldest = conn.execute(select(func.min(bo_outbox.c.created_at))
                          .where(bo_outbox.c.delivered_at.is_(None))).scalar_one()
    outbox = [(str(r[0]), int(r[2]), int(r[1]) - int(r[2])) for r in rows]
    days = conn.execute(
        select(bo_settlements.c.business_day, func.count(), func.sum(bo_settlements.c.funding_fen),
               func.sum(bo_settlements.c.payout_fen))
        .group_by(bo_settlements.c.business_day)
        .order_by(bo_settlements.c.business_day.desc()).limit(14)).all()
    return {"members": members, "outbox": outbox, "agreements": list_agreements(conn),
            "days": [(str(d), int(n), int(funding), int(payout)) for d, n, funding, payout in days],
            "oldest": None if oldest is None else from_micros(oldest),
            "terminals": terminal_states(conn)}
