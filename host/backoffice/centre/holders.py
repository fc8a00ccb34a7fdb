"""Holders of the settlement centre: a consumer member with its three tiers, the cap and
threshold of its settlement account, its bank account and the delivery addresses on file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from host.backoffice.centre.tables import sc_holders
from host.backoffice.centre.tiers import (
    Tier,
    TierSettings,
    centre_accounts,
    holder_accounts,
    tier_account,
)
from host.backoffice.clock import to_micros
from host.backoffice.database import chunked
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, find_member
from host.backoffice.schema import FORMAT_VERSION, bo_members, ledger_accounts

__all__ = ["Holder", "find_holder", "lock_holders", "lock_tiers", "member_kinds", "open_holder"]


@dataclass(frozen=True, slots=True)
class Holder:
    holder_id: str
    cap: int
    threshold: int
    bank_account: str
    addresses: tuple[str, ...]

    @classmethod
    def from_row(cls, row: Any) -> Holder:
        return cls(row.holder_id, row.cap, row.threshold, row.bank_account,
                   tuple(json.loads(row.addresses)))

    @property
    def virtual(self) -> str:
        return tier_account(self.holder_id, Tier.VIRTUAL)

    @property
    def settlement(self) -> str:
        return tier_account(self.holder_id, Tier.SETTLEMENT)

    def as_dict(self) -> dict[str, Any]:
        return {"holder": self.holder_id, "cap": self.cap, "threshold": self.threshold,
                "bank_account": self.bank_account, "addresses": list(self.addresses)}


def open_holder(
    conn: Connection,
    ledger: Ledger,
    holder_id: str,
    settings: TierSettings,
    *,
    bank_account: str,
    addresses: tuple[str, ...],
    at: datetime,
) -> str:
    """Open a consumer's tiers (``created``), or find them opened alike (``exists``)."""
    member = find_member(conn, holder_id)
    if member.kind is not MemberKind.CONSUMER:
        raise ValidationError(f"{holder_id} is a {member.kind.value}, not a consumer")
    if not bank_account or any(not a.strip() for a in addresses):
        raise ValidationError("a bank account and non-empty addresses are required")
    ledger.create_accounts_in(conn, centre_accounts(), at=at)
    ledger.create_accounts_in(conn, holder_accounts(holder_id, settings), at=at)
    known = conn.execute(select(sc_holders).where(sc_holders.c.holder_id == holder_id)).first()
    if known is not None:
        holder = Holder.from_row(known)
        if (holder.cap, holder.threshold, holder.bank_account, holder.addresses) != (
                settings.cap, settings.threshold, bank_account, tuple(addresses)):
            raise IdReusedError("holder", holder_id, "settings")
        return "exists"
    conn.execute(insert(sc_holders).values(
        holder_id=holder_id, cap=settings.cap, threshold=settings.threshold,
        bank_account=bank_account, addresses=json.dumps(list(addresses)),
        created_at=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return "created"


def find_holder(conn: Connection, holder_id: str) -> Holder:
    row = conn.execute(select(sc_holders).where(sc_holders.c.holder_id == holder_id)).first()
    if row is None:
        raise NotFoundError(f"no settlement-centre holder {holder_id!r}: open its account first")
    return Holder.from_row(row)


def lock_tiers(conn: Connection, ledger: Ledger, holder_id: str) -> Holder:
    """Find a holder and lock both its tier accounts, first thing in a transaction: every
    centre operation takes a holder's accounts before any other (PostgreSQL locks rows in
    id order within one statement, so this order keeps two operations from deadlocking)."""
    holder = find_holder(conn, holder_id)
    ledger.db.lock_rows(conn, ledger_accounts, [holder.virtual, holder.settlement])
    return holder


def lock_holders(conn: Connection, ledger: Ledger, holder_ids: Sequence[str]) -> dict[str, Holder]:
    """:func:`lock_tiers` for many holders at once (one statement, in id order)."""
    wanted = sorted(set(holder_ids))
    holders: dict[str, Holder] = {}
    for part in chunked(wanted):
        query = select(sc_holders).where(sc_holders.c.holder_id.in_(part))
        holders.update({r.holder_id: Holder.from_row(r) for r in conn.execute(query)})
    missing = [h for h in wanted if h not in holders]
    if missing:
        raise NotFoundError(f"no settlement-centre holder {missing[0]!r}: open its account "
                            "first")
    ledger.db.lock_rows(conn, ledger_accounts,
                        [a for h in holders.values() for a in (h.virtual, h.settlement)])
    return holders


def member_kinds(conn: Connection, member_ids: Iterable[str]) -> dict[str, MemberKind]:
    """The kind of each member named (members unknown are left out)."""
    kinds: dict[str, MemberKind] = {}
    for part in chunked(sorted(set(member_ids))):
        query = select(bo_members.c.id, bo_members.c.kind).where(bo_members.c.id.in_(part))
        kinds.update({i: MemberKind(k) for i, k in conn.execute(query)})
    return kinds
