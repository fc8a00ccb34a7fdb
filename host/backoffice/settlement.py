"""End-of-day net settlement among signed merchants (F19's points settlement module).

Points are an alliance-wide currency (F17): a consumer earns them at one merchant and spends
them at another. Each business day, for each merchant:

* points it *issued* (awarded to consumers) must be funded: ``issued × point value``, rounded
  up (in favour of the alliance, which holds the money behind outstanding points);
* points *redeemed at it* are reimbursed: ``redeemed × point value``, rounded down;
* its net position is reimbursement minus funding; one CNY transfer settles it, from the
  merchant to the alliance (net funding) or from the alliance to the merchant (net payout).

Settling closes the day: no batch may be cleared into it afterwards, so the figures can never
change behind a settlement. Settling a day twice answers the first settlement again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from host.backoffice.assets import Asset
from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.errors import ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import ALLIANCE_ID, Role, account_id
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.rates import Rounding
from host.backoffice.schema import (
    FORMAT_VERSION,
    bo_settled_days,
    bo_settlements,
    ledger_accounts,
    ledger_transfers,
)
from host.backoffice.settings import AllianceSettings, load_settings
from host.backoffice.transfers import Balance, Reason, Source, SourceKind, Transfer

__all__ = ["MerchantPosition", "SettlementResult", "settle_day"]

_T = ledger_transfers
_A = ledger_accounts


@dataclass(frozen=True, slots=True)
class MerchantPosition:
    """One merchant's figures for a day; ``net_fen`` > 0 means the alliance pays it."""

    merchant_id: str
    points_issued: int
    points_redeemed: int
    funding_fen: int
    payout_fen: int
    transfer_id: str | None

    @property
    def net_fen(self) -> int:
        return self.payout_fen - self.funding_fen

    def as_dict(self) -> dict[str, Any]:
        return {
            "merchant": self.merchant_id, "points_issued": self.points_issued,
            "points_redeemed": self.points_redeemed, "funding_fen": self.funding_fen,
            "payout_fen": self.payout_fen, "net_fen": self.net_fen,
            "transfer": self.transfer_id,
        }


@dataclass(frozen=True, slots=True)
class SettlementResult:
    business_day: date
    status: str  # "created" or "exists"
    positions: tuple[MerchantPosition, ...]
    balances: Mapping[str, Balance]  # every account the settlement moved, right after it

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_day": self.business_day.isoformat(), "status": self.status,
            "positions": [p.as_dict() for p in self.positions],
            "balances": {k: v.as_dict() for k, v in sorted(self.balances.items())},
        }


def settle_day(db: Database, ledger: Ledger, day: date, *, at: datetime) -> SettlementResult:
    """Compute and post the net settlement of business day ``day`` at time ``at`` (which
    must be after the day has ended)."""
    with db.write() as conn:
        settings = load_settings(conn)
        start, end = settings.day_bounds(day)
        if at < end:
            raise ValidationError(f"business day {day} has not ended yet (ends {end.isoformat()})")
        db.lock_key(conn, f"business-day/{day.isoformat()}")
        if _is_settled(conn, day):
            return _stored(conn, ledger, day)
        positions = _positions(conn, settings, day, start, end)
        transfers = [t for p in positions if (t := _transfer(p, day)) is not None]
        plan = ledger.apply(conn, transfers, at=at, all_or_nothing=True)
        ts = to_micros(at)
        conn.execute(insert(bo_settled_days).values(
            business_day=day.isoformat(), ts=ts, format_version=FORMAT_VERSION
        ))
        if positions:
            conn.execute(insert(bo_settlements), [
                {"business_day": day.isoformat(), "merchant_id": p.merchant_id,
                 "points_issued": p.points_issued, "points_redeemed": p.points_redeemed,
                 "funding_fen": p.funding_fen, "payout_fen": p.payout_fen,
                 "net_fen": p.net_fen, "transfer_id": p.transfer_id, "ts": ts,
                 "format_version": FORMAT_VERSION}
                for p in positions
            ])
        post_notices(conn, [
            Notice(f"settlement/{day.isoformat()}/{p.merchant_id}", p.merchant_id,
                   MessageKind.SETTLEMENT, {"business_day": day.isoformat(), **p.as_dict()})
            for p in positions
        ], at=at)
    return SettlementResult(day, "created", tuple(positions), plan.balances)


def _is_settled(conn: Connection, day: date) -> bool:
    query = select(bo_settled_days.c.business_day).where(
        bo_settled_days.c.business_day == day.isoformat()
    )
    return conn.execute(query).first() is not None


def _positions(
    conn: Connection, settings: AllianceSettings, day: date, start: datetime, end: datetime
) -> list[MerchantPosition]:
    issued = _sums(conn, Reason.EARN, _T.c.debit_account, Role.POINTS_ISSUED, start, end)
    redeemed = _sums(conn, Reason.REDEEM, _T.c.credit_account, Role.POINTS_REDEEMED, start, end)
    positions = []
    for merchant in sorted(set(issued) | set(redeemed)):
        position = MerchantPosition(
            merchant, issued.get(merchant, 0), redeemed.get(merchant, 0),
            settings.point_value.apply(issued.get(merchant, 0), Rounding.UP),
            settings.point_value.apply(redeemed.get(merchant, 0), Rounding.DOWN), None,
        )
        tid = f"settlement/{day.isoformat()}/{merchant}" if position.net_fen else None
        positions.append(MerchantPosition(
            merchant, position.points_issued, position.points_redeemed, position.funding_fen,
            position.payout_fen, tid,
        ))
    return positions


def _sums(
    conn: Connection, reason: Reason, side: Any, role: Role, start: datetime, end: datetime
) -> dict[str, int]:
    """Per merchant, the points moved for ``reason`` through its ``role`` account."""
    query = (
        select(_A.c.owner_id, func.sum(_T.c.amount))
        .join(_A, _A.c.id == side)
        .where(_T.c.reason == reason.value, _A.c.role == role.value,
               _T.c.ts >= to_micros(start), _T.c.ts < to_micros(end))
        .group_by(_A.c.owner_id)
    )
    totals: dict[str, int] = defaultdict(int)
    for owner, total in conn.execute(query):
        totals[owner] += int(total)
    return dict(totals)


def _transfer(position: MerchantPosition, day: date) -> Transfer | None:
    if position.transfer_id is None:
        return None
    merchant = account_id(position.merchant_id, Role.CNY)
    alliance = account_id(ALLIANCE_ID, Role.CNY)
    paying_in = position.net_fen < 0
    return Transfer.single(
        position.transfer_id,
        merchant if paying_in else alliance,
        alliance if paying_in else merchant,
        abs(position.net_fen),
        Asset.CNY,
        Reason.SETTLEMENT_FUNDING if paying_in else Reason.SETTLEMENT_PAYOUT,
        Source(SourceKind.MERCHANT, position.merchant_id),
        correlation_id=f"settlement/{day.isoformat()}",
        details={"business_day": day.isoformat(), "points_issued": position.points_issued,
                 "points_redeemed": position.points_redeemed,
                 "funding_fen": position.funding_fen, "payout_fen": position.payout_fen},
    )


def _stored(conn: Connection, ledger: Ledger, day: date) -> SettlementResult:
    query = (select(bo_settlements).where(bo_settlements.c.business_day == day.isoformat())
             .order_by(bo_settlements.c.merchant_id))
    positions = tuple(
        MerchantPosition(r.merchant_id, r.points_issued, r.points_redeemed, r.funding_fen,
                         r.payout_fen, r.transfer_id)
        for r in conn.execute(query)
    )
    balances = ledger.balances_after(conn, f"settlement/{day.isoformat()}")
    return SettlementResult(day, "exists", positions, balances)
