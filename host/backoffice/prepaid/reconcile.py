"""The daily reconciliation (F15): as of the end of a business day, per merchant, the sum of
its cards' balances in the ledger must equal its custody account, and the live records
(every card's movements) must say the same sum. Any difference is reported with the cards
whose live record and ledger balance disagree."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.prepaid.accounts import CARD_ROLE, CUSTODY_ROLE, card_account
from host.backoffice.prepaid.schema import pp_cards, pp_movements
from host.backoffice.schema import ledger_accounts, ledger_transfers
from host.backoffice.settings import load_settings

__all__ = ["MerchantReconciliation", "reconcile"]

_T, _A, _M, _C = ledger_transfers, ledger_accounts, pp_movements, pp_cards
#: the most disagreeing cards one report lists per merchant
_MAX_CARDS_LISTED = 20


@dataclass(frozen=True, slots=True)
class MerchantReconciliation:
    """One merchant's figures as of the reconciliation time (fen)."""

    merchant_id: str
    cards_in_ledger: int
    custody: int
    live_records: int
    cards_disagreeing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.cards_in_ledger == self.custody == self.live_records

    def as_dict(self) -> dict[str, Any]:
        return {"merchant": self.merchant_id, "cards_in_ledger": self.cards_in_ledger,
                "custody": self.custody, "live_records": self.live_records,
                "difference": self.cards_in_ledger - self.custody,
                "records_difference": self.live_records - self.cards_in_ledger,
                "cards_disagreeing": list(self.cards_disagreeing), "ok": self.ok}


def reconcile(db: Database, day: date) -> dict[str, Any]:
    """The reconciliation of every merchant as of the end of business ``day``."""
    with db.read() as conn:
        _, end = load_settings(conn).day_bounds(day)
        until = to_micros(end) - 1
        cards = _ledger_sums(conn, CARD_ROLE, until)
        custody = _ledger_sums(conn, CUSTODY_ROLE, until)
        records = _record_sums(conn, until)
        merchants = sorted(set(cards) | set(custody) | set(records))
        rows = [_merchant(conn, m, cards.get(m, 0), custody.get(m, 0), records.get(m, 0),
                          until) for m in merchants]
    return {"date": day.isoformat(), "as_of": end.isoformat(),
            "merchants": [r.as_dict() for r in rows], "ok": all(r.ok for r in rows)}


def _ledger_sums(conn: Connection, role: str, until: int) -> dict[str, int]:
    """Per owner, the posted balances of its accounts of ``role`` at ``until``."""
    totals: dict[str, int] = defaultdict(int)
    for side, sign in ((_T.c.credit_account, 1), (_T.c.debit_account, -1)):
        query = (select(_A.c.owner_id, func.sum(_T.c.posted_amount))
                 .join(_A, _A.c.id == side)
                 .where(_A.c.role == role, _T.c.ts <= until).group_by(_A.c.owner_id))
        for owner, amount in conn.execute(query):
            totals[owner] += sign * int(amount or 0)
    return dict(totals)


def _record_sums(conn: Connection, until: int) -> dict[str, int]:
    query = (select(_C.c.merchant_id, func.sum(_M.c.principal_delta + _M.c.bonus_delta))
             .join(_C, _C.c.card_no == _M.c.card_no).where(_M.c.ts <= until)
             .group_by(_C.c.merchant_id))
    return {m: int(total or 0) for m, total in conn.execute(query)}


def _merchant(conn: Connection, merchant: str, cards: int, custody: int, records: int,
              until: int) -> MerchantReconciliation:
    disagreeing: tuple[str, ...] = ()
    if cards != records:
        disagreeing = _disagreeing_cards(conn, merchant, until)
    return MerchantReconciliation(merchant, cards, custody, records, disagreeing)


def _disagreeing_cards(conn: Connection, merchant: str, until: int) -> tuple[str, ...]:
    """Cards whose live record and ledger balance differ (the drill-down of a difference)."""
    live = {no: int(v or 0) for no, v in conn.execute(
        select(_M.c.card_no, func.sum(_M.c.principal_delta + _M.c.bonus_delta))
        .join(_C, _C.c.card_no == _M.c.card_no)
        .where(_C.c.merchant_id == merchant, _M.c.ts <= until).group_by(_M.c.card_no))}
    ledger: dict[str, int] = defaultdict(int)
    for side, sign in ((_T.c.credit_account, 1), (_T.c.debit_account, -1)):
        query = (select(side, func.sum(_T.c.posted_amount)).join(_A, _A.c.id == side)
                 .where(_A.c.role == CARD_ROLE, _A.c.owner_id == merchant, _T.c.ts <= until)
                 .group_by(side))
        for account, amount in conn.execute(query):
            ledger[account] += sign * int(amount or 0)
    wrong = [no for no in sorted(live) if live[no] != ledger.get(card_account(no), 0)]
    wrong += [a.removeprefix("card:") for a in sorted(ledger)
              if a.removeprefix("card:") not in live and ledger[a]]
    return tuple(wrong[:_MAX_CARDS_LISTED])
