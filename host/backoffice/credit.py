"""Credit granting (F11): anyone who shops builds credit. Explainable rules raise a consumer's
credit line from the points they earned, and a merchant's from its credit points.

A rule measures one number and looks it up in a table of tiers; the highest tier reached
gives the line. A review only ever raises a line (lowering one is an operator's decision).
Each raise, in one transaction:

* moves the lower bound of the member's ``credit_line`` account (the ledger enforces it);
* logs the change with the rule and a sentence a person can read;
* for a consumer with a card, queues an *issuer script* so the new limit reaches chip 1 at the
  card's next online transaction (:func:`pending_limit_updates`, :func:`mark_delivered`);
* writes a ``limit_raised`` notice to the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import PURSE_ROLE, Member, MemberKind, Role, account_id, list_members
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.schema import (
    FORMAT_VERSION,
    bo_credit_changes,
    bo_issuer_scripts,
    ledger_accounts,
    ledger_transfers,
)
from host.backoffice.transfers import Reason

__all__ = [
    "CONSUMER_RULE",
    "MERCHANT_RULE",
    "CreditDecision",
    "CreditPosition",
    "CreditRule",
    "LimitUpdate",
    "credit_position",
    "mark_delivered",
    "pending_limit_updates",
    "review_credit",
]


@dataclass(frozen=True, slots=True)
class CreditRule:
    """``tiers`` are (threshold, credit line in fen), ascending; ``window_days`` bounds how
    far back earned points count (consumers); merchants are measured on the credit points
    they hold."""

    id: str
    member_kind: MemberKind
    tiers: tuple[tuple[int, int], ...]
    window_days: int = 0

    def __post_init__(self) -> None:
        thresholds = [t for t, _ in self.tiers]
        limits = [limit for _, limit in self.tiers]
        if not self.tiers or thresholds != sorted(set(thresholds)) or limits != sorted(limits):
            raise ValidationError(f"rule {self.id}: tiers must ascend in threshold and line")
        if any(v < 0 for v in thresholds + limits):
            raise ValidationError(f"rule {self.id}: tiers are non-negative")

    def line_for(self, measured: int) -> tuple[int, int | None]:
        """(credit line, threshold reached) for a measured value."""
        reached = [(t, line) for t, line in self.tiers if measured >= t]
        return (reached[-1][1], reached[-1][0]) if reached else (0, None)


#: 1,000 points earned in 180 days → 500.00 CNY; 5,000 → 2,000.00; 20,000 → 5,000.00.
CONSUMER_RULE = CreditRule(
    "consumer-points-180d", MemberKind.CONSUMER,
    ((1_000, 50_000), (5_000, 200_000), (20_000, 500_000)), window_days=180,
)
#: 100 credit points held → 5,000.00 CNY; 1,000 → 20,000.00; 10,000 → 100,000.00.
MERCHANT_RULE = CreditRule(
    "merchant-credit-points", MemberKind.MERCHANT,
    ((100, 500_000), (1_000, 2_000_000), (10_000, 10_000_000)),
)


@dataclass(frozen=True, slots=True)
class CreditDecision:
    """The outcome of reviewing one member, with its explanation."""

    member_id: str
    rule: str
    measured: int
    old_limit: int
    new_limit: int
    explanation: str
    script_id: str | None = None

    @property
    def raised(self) -> bool:
        return self.new_limit > self.old_limit

    def as_dict(self) -> dict[str, Any]:
        return {
            "member": self.member_id, "rule": self.rule, "measured": self.measured,
            "old_limit_fen": self.old_limit, "new_limit_fen": self.new_limit,
            "raised": self.raised, "explanation": self.explanation,
            "issuer_script": self.script_id,
        }


@dataclass(frozen=True, slots=True)
class LimitUpdate:
    """A new offline credit limit waiting to be written to chip 1 by an issuer script."""

    script_id: str
    card_id: str
    new_limit: int
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"script": self.script_id, "card_id": self.card_id,
                "new_limit_fen": self.new_limit, "created_at": self.created_at.isoformat()}


def review_credit(
    db: Database,
    ledger: Ledger,
    *,
    at: datetime,
    rules: Sequence[CreditRule] = (CONSUMER_RULE, MERCHANT_RULE),
    member_ids: Sequence[str] | None = None,
) -> list[CreditDecision]:
    """Review every member a rule applies to (or only ``member_ids``); apply the raises."""
    decisions: list[CreditDecision] = []
    with db.write() as conn:
        members = list_members(conn)
        if member_ids is not None:
            known = {m.id for m in members}
            missing = sorted(set(member_ids) - known)
            if missing:
                raise NotFoundError(f"no member {missing[0]!r}")
            members = [m for m in members if m.id in set(member_ids)]
        for rule in rules:
            for member in members:
                if member.kind is rule.member_kind:
                    decisions.append(_review(conn, ledger, rule, member, at))
    return decisions


def open_line(
    db: Database, ledger: Ledger, member_id: str, limit: int, *, reason: str, at: datetime
) -> CreditDecision:
    """The line a member starts with — the limit the issuer personalised on the card.

    Logged like any change, but no issuer script is queued: the card already has it.
    """
    if limit < 0:
        raise ValidationError("a credit line is not negative")
    with db.write() as conn:
        line_account = account_id(member_id, Role.CREDIT_LINE)
        account = ledger.account(line_account, conn=conn)
        old_limit = account.credit_line or 0
        explanation = f"{reason}: credit line {_cny(old_limit)} → {_cny(limit)}"
        ledger.set_bounds(conn, line_account, lower_bound=-limit,
                          upper_bound=account.upper_bound, reason=explanation, at=at)
        conn.execute(insert(bo_credit_changes).values(
            member_id=member_id, account_id=line_account, old_limit=old_limit, new_limit=limit,
            rule="issued", explanation=explanation, ts=to_micros(at),
            format_version=FORMAT_VERSION,
        ))
    return CreditDecision(member_id, "issued", 0, old_limit, limit, explanation)


def _review(
    conn: Connection, ledger: Ledger, rule: CreditRule, member: Member, at: datetime
) -> CreditDecision:
    line_account = account_id(member.id, Role.CREDIT_LINE)
    account = ledger.account(line_account, conn=conn)
    old_limit = account.credit_line or 0
    measured, what = _measure(conn, rule, member, at)
    target, threshold = rule.line_for(measured)
    if target <= old_limit:
        reason = (f"{what}: {measured}; the line stays at {_cny(old_limit)} "
                  f"(rule {rule.id} gives {_cny(target)})")
        return CreditDecision(member.id, rule.id, measured, old_limit, old_limit, reason)
    explanation = (f"{what}: {measured} ≥ {threshold}, so rule {rule.id} raises the credit "
                   f"line from {_cny(old_limit)} to {_cny(target)}")
    ledger.set_bounds(conn, line_account, lower_bound=-target, upper_bound=account.upper_bound,
                      reason=explanation, at=at)
    change_seq = conn.execute(insert(bo_credit_changes).values(
        member_id=member.id, account_id=line_account, old_limit=old_limit, new_limit=target,
        rule=rule.id, explanation=explanation, ts=to_micros(at), format_version=FORMAT_VERSION,
    )).inserted_primary_key[0]  # type: ignore[index]  # an INSERT always has its key
    script_id = None
    if member.card_id is not None:
        script_id = f"limit/{member.card_id}/{change_seq}"
        conn.execute(insert(bo_issuer_scripts).values(
            id=script_id, card_id=member.card_id, change_seq=change_seq, new_limit=target,
            created_at=to_micros(at), delivered_at=None, format_version=FORMAT_VERSION,
        ))
    post_notices(conn, [Notice(
        f"credit/{change_seq}", member.id, MessageKind.LIMIT_RAISED,
        {"old_limit_fen": old_limit, "new_limit_fen": target, "explanation": explanation},
    )], at=at)
    return CreditDecision(member.id, rule.id, measured, old_limit, target, explanation, script_id)


def _measure(
    conn: Connection, rule: CreditRule, member: Member, at: datetime
) -> tuple[int, str]:
    if rule.member_kind is MemberKind.MERCHANT:
        account = account_id(member.id, Role.MERCHANT_CREDIT_POINTS)
        row = conn.execute(select(ledger_accounts).where(ledger_accounts.c.id == account)).one()
        return row.credits_posted - row.debits_posted, "merchant credit points held"
    since = at - timedelta(days=rule.window_days)
    purses = [account_id(member.id, role) for role in PURSE_ROLE.values()]
    query = select(func.coalesce(func.sum(ledger_transfers.c.amount), 0)).where(
        ledger_transfers.c.credit_account.in_(purses),
        ledger_transfers.c.reason == Reason.EARN.value,
        ledger_transfers.c.ts > to_micros(since),
        ledger_transfers.c.ts <= to_micros(at),
    )
    return int(conn.execute(query).scalar_one()), f"points earned in {rule.window_days} days"


def _cny(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d} CNY"


@dataclass(frozen=True, slots=True)
class CreditPosition:
    """A member's live credit line: what an amount is checked against (F22)."""

    limit: int  #: the line (the ``credit_line`` account's lower bound, as a positive amount)
    used: int  #: posted against the line (negative when the holder paid in more)
    held: int  #: authorised and not yet posted (pending debits)

    @property
    def available(self) -> int:
        """limit − used − holds."""
        return self.limit - self.used - self.held


def credit_position(ledger: Ledger, member_id: str, *,
                    conn: Connection | None = None) -> CreditPosition:
    """The member's credit line now (:class:`NotFoundError` if the member has none)."""
    account = ledger.account(account_id(member_id, Role.CREDIT_LINE), conn=conn)
    balance = account.balance
    return CreditPosition(account.credit_line or 0, -balance.posted, balance.debits_pending)


def pending_limit_updates(db: Database, card_id: str) -> list[LimitUpdate]:
    """Limit changes not yet delivered to ``card_id``'s chip 1, oldest first (the card's
    issuer-script processing applies them in order; the last one wins)."""
    query = (select(bo_issuer_scripts)
             .where(bo_issuer_scripts.c.card_id == card_id,
                    bo_issuer_scripts.c.delivered_at.is_(None))
             .order_by(bo_issuer_scripts.c.change_seq))
    with db.read() as conn:
        return [LimitUpdate(r.id, r.card_id, r.new_limit, from_micros(r.created_at))
                for r in conn.execute(query)]


def mark_delivered(db: Database, script_id: str, *, at: datetime) -> bool:
    """Record that the card confirmed the script; False if it was already marked."""
    with db.write() as conn:
        exists = conn.execute(
            select(bo_issuer_scripts.c.id).where(bo_issuer_scripts.c.id == script_id)
        ).first()
        if exists is None:
            raise NotFoundError(f"no issuer script {script_id!r}")
        result = conn.execute(
            update(bo_issuer_scripts)
            .where(bo_issuer_scripts.c.id == script_id,
                   bo_issuer_scripts.c.delivered_at.is_(None))
            .values(delivered_at=to_micros(at))
        )
        return result.rowcount == 1
