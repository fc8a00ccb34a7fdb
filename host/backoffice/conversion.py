"""Points spent outside the merchants (F5, F20): exchanged for money on the holder's bank
account, or paying an insurer's premium.

One linked chain through the alliance's liquidity accounts (TigerBeetle's currency-exchange
recipe), all or nothing:

1. holder's points → alliance liquidity account of that kind of points (net points);
2. holder's points → alliance fee account (the fee, in points, when there is one);
3. alliance money → holder's bank account, or → the insurer (the money the net points buy).

The rate (fen per point, as ``num/den``) and the fee (basis points of the points) are
recorded on every transfer. Rounding favours the liquidity account: the fee is rounded up,
the money rounded down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from host.backoffice.assets import Asset, check_amount
from host.backoffice.database import Database
from host.backoffice.errors import ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import (
    ALLIANCE_ID,
    PURSE_ROLE,
    MemberKind,
    Role,
    account_id,
    fee_account,
    find_member,
    liquidity_account,
)
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.rates import Ratio, ceil_div
from host.backoffice.transfers import Balance, Reason, Source, SourceKind, Transfer, check_id

__all__ = ["ConversionQuote", "ConversionResult", "convert_points", "quote"]

_MAX_FEE_BP = 10_000


@dataclass(frozen=True, slots=True)
class ConversionQuote:
    """How many points go where and what money they buy."""

    points: int
    fee_points: int
    net_points: int
    fen: int
    rate: Ratio
    fee_bp: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "points": self.points, "fee_points": self.fee_points,
            "net_points": self.net_points, "fen": self.fen, "rate": str(self.rate),
            "fee_bp": self.fee_bp,
        }


def quote(points: int, rate: Ratio, fee_bp: int) -> ConversionQuote:
    """The figures of converting ``points`` at ``rate`` fen per point with ``fee_bp``."""
    check_amount(points, what="points")
    if isinstance(fee_bp, bool) or not isinstance(fee_bp, int) or not 0 <= fee_bp < _MAX_FEE_BP:
        raise ValidationError(f"fee must be 0..{_MAX_FEE_BP - 1} basis points, got {fee_bp!r}")
    fee_points = ceil_div(points * fee_bp, _MAX_FEE_BP)
    net_points = points - fee_points
    fen = rate.apply(net_points)
    if fen <= 0:
        raise ValidationError(f"{points} points buy less than one fen at {rate} fen per point")
    return ConversionQuote(points, fee_points, net_points, fen, rate, fee_bp)


@dataclass(frozen=True, slots=True)
class ConversionResult:
    conversion_id: str
    status: str  # "created" or "exists"
    quote: ConversionQuote
    target: str
    balances: Mapping[str, Balance]

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversion": self.conversion_id, "status": self.status,
            "quote": self.quote.as_dict(), "target": self.target,
            "balances": {k: v.as_dict() for k, v in sorted(self.balances.items())},
        }


def convert_points(
    db: Database,
    ledger: Ledger,
    *,
    conversion_id: str,
    member_id: str,
    asset: Asset,
    points: int,
    rate: Ratio,
    fee_bp: int,
    at: datetime,
    insurer_id: str | None = None,
    policy: str | None = None,
) -> ConversionResult:
    """Exchange a consumer's points for money (``insurer_id=None``) or for a premium paid to
    ``insurer_id`` under ``policy``. Idempotent by ``conversion_id``."""
    check_id(conversion_id, "conversion id")
    if asset not in PURSE_ROLE:
        raise ValidationError(f"{asset.value} cannot be converted")
    figures = quote(points, rate, fee_bp)
    with db.write() as conn:
        holder = find_member(conn, member_id)
        if holder.kind is not MemberKind.CONSUMER:
            raise ValidationError(f"{member_id} is a {holder.kind.value}, not a consumer")
        if insurer_id is not None:
            insurer = find_member(conn, insurer_id)
            if insurer.kind is not MemberKind.INSURER:
                raise ValidationError(f"{insurer_id} is a {insurer.kind.value}, not an insurer")
            if not policy:
                raise ValidationError("a premium needs the policy number")
            check_id(policy, "policy")
        transfers = _chain(conversion_id, member_id, asset, figures, insurer_id, policy)
        plan = ledger.apply(conn, transfers, at=at, all_or_nothing=True)
        status = "exists" if all(r.code == "exists" for r in plan.results) else "created"
        target = account_id(insurer_id or member_id, Role.CNY)
        if status == "created":
            post_notices(conn, [Notice(
                f"{conversion_id}/notice", member_id, MessageKind.CONVERSION,
                {"conversion": conversion_id, "target": target, **figures.as_dict(),
                 "asset": asset.value, **({"policy": policy} if policy else {})},
            )], at=at)
        balances = plan.balances
    return ConversionResult(conversion_id, status, figures, target, balances)


def _chain(
    conversion_id: str,
    member_id: str,
    asset: Asset,
    figures: ConversionQuote,
    insurer_id: str | None,
    policy: str | None,
) -> list[Transfer]:
    source = Source(SourceKind.MEMBER, member_id)
    holder_points = account_id(member_id, PURSE_ROLE[asset])
    details: dict[str, int | str] = {
        "rate": str(figures.rate), "fee_bp": figures.fee_bp, "points": figures.points,
        "fee_points": figures.fee_points, "fen": figures.fen,
    }
    if policy:
        details["policy"] = policy
    legs = [Transfer.single(
        f"{conversion_id}/points", holder_points, liquidity_account(asset), figures.net_points,
        asset, Reason.CONVERSION, source, linked=True, correlation_id=conversion_id,
        details=details,
    )]
    if figures.fee_points:
        legs.append(Transfer.single(
            f"{conversion_id}/fee", holder_points, fee_account(asset), figures.fee_points,
            asset, Reason.CONVERSION_FEE, source, linked=True, correlation_id=conversion_id,
            details=details,
        ))
    payee = account_id(insurer_id or member_id, Role.CNY)
    legs.append(Transfer.single(
        f"{conversion_id}/cash", account_id(ALLIANCE_ID, Role.CNY), payee, figures.fen,
        Asset.CNY, Reason.PREMIUM if insurer_id else Reason.CONVERSION, source,
        correlation_id=conversion_id, details=details,
    ))
    return legs
