"""The alliance's members (F4, F6, F17): consumers linked to their card identity, merchants and
enterprises with their terminals, banks and insurers; and the ledger accounts each one holds.

Account ids are ``<member id>:<role>``; the alliance itself is the member ``alliance``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select

from host.backoffice.accounts import AccountSpec
from host.backoffice.assets import Asset
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import chunked, on_driver
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.rates import Ratio
from host.backoffice.schema import FORMAT_VERSION, bo_members, bo_terminals
from host.records.ids import check_terminal_id

__all__ = [
    "ALLIANCE_ID",
    "DEFAULT_TWO_WAY",
    "ISSUING_ROLE",
    "PURSE_ROLE",
    "WITH_TERMINALS",
    "Member",
    "MemberKind",
    "Role",
    "account_id",
    "alliance_accounts",
    "check_member_id",
    "check_terminal_id",
    "fee_account",
    "find_member",
    "liquidity_account",
    "list_members",
    "member_accounts",
    "register_member",
    "register_members",
]

ALLIANCE_ID = "alliance"
#: Default two-way rule: one merchant credit point for every ten points a merchant awards.
DEFAULT_TWO_WAY = Ratio(1, 10)
_MEMBER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class MemberKind(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    BANK = "bank"
    INSURER = "insurer"
    ALLIANCE = "alliance"


class Role(StrEnum):
    """What an account is for; the suffix of its id."""

    CONSUMPTION_POINTS = "consumption_points"
    BANK_POINTS = "bank_points"
    CREDIT_POINTS = "credit_points"
    CNY = "cny"
    CREDIT_LINE = "credit_line"
    POINTS_ISSUED = "points_issued"
    POINTS_REDEEMED = "points_redeemed"
    MERCHANT_CREDIT_POINTS = "merchant_credit_points"
    BANK_POINTS_ISSUED = "bank_points_issued"
    CREDIT_POINTS_ISSUED = "credit_points_issued"
    MERCHANT_CREDIT_ISSUED = "merchant_credit_issued"


def account_id(member_id: str, role: str) -> str:
    return f"{member_id}:{role}"


def liquidity_account(asset: Asset) -> str:
    """The alliance account that takes in points exchanged for money (F5, F20)."""
    return account_id(ALLIANCE_ID, f"liquidity.{asset.value}")


def fee_account(asset: Asset) -> str:
    return account_id(ALLIANCE_ID, f"fees.{asset.value}")


#: The purse account a consumer holds for each kind of card points.
PURSE_ROLE = {
    Asset.CONSUMPTION_POINTS: Role.CONSUMPTION_POINTS,
    Asset.BANK_POINTS: Role.BANK_POINTS,
    Asset.CREDIT_POINTS: Role.CREDIT_POINTS,
}
#: The account an issuer debits when it awards each kind of points.
ISSUING_ROLE = {
    Asset.CONSUMPTION_POINTS: Role.POINTS_ISSUED,
    Asset.BANK_POINTS: Role.BANK_POINTS_ISSUED,
    Asset.CREDIT_POINTS: Role.CREDIT_POINTS_ISSUED,
}


def member_accounts(kind: MemberKind, member_id: str) -> list[AccountSpec]:
    """The accounts opened for a new member. Holders' accounts cannot overdraw (bound 0);
    issuing and external-money accounts are unbounded by design."""

    def spec(role: Role, asset: Asset, lower: int | None = 0) -> AccountSpec:
        return AccountSpec(account_id(member_id, role), asset, role.value, member_id, lower)

    if kind is MemberKind.CONSUMER:
        return [
            spec(Role.CONSUMPTION_POINTS, Asset.CONSUMPTION_POINTS),
            spec(Role.BANK_POINTS, Asset.BANK_POINTS),
            spec(Role.CREDIT_POINTS, Asset.CREDIT_POINTS),
            spec(Role.CNY, Asset.CNY),
            spec(Role.CREDIT_LINE, Asset.CNY),
        ]
    if kind is MemberKind.MERCHANT:
        return [
            spec(Role.POINTS_ISSUED, Asset.CONSUMPTION_POINTS, None),
            spec(Role.POINTS_REDEEMED, Asset.CONSUMPTION_POINTS),
            spec(Role.MERCHANT_CREDIT_POINTS, Asset.MERCHANT_CREDIT_POINTS),
            spec(Role.CNY, Asset.CNY, None),
            spec(Role.CREDIT_LINE, Asset.CNY),
        ]
    if kind is MemberKind.BANK:
        return [
            spec(Role.BANK_POINTS_ISSUED, Asset.BANK_POINTS, None),
            spec(Role.CREDIT_POINTS_ISSUED, Asset.CREDIT_POINTS, None),
            spec(Role.CNY, Asset.CNY, None),
        ]
    if kind is MemberKind.INSURER:
        return [spec(Role.CNY, Asset.CNY, None)]
    return alliance_accounts()


def alliance_accounts() -> list[AccountSpec]:
    """The alliance's own accounts: its money, the source of merchant credit points, and the
    liquidity and fee accounts of conversions."""
    specs = [
        AccountSpec(account_id(ALLIANCE_ID, Role.CNY), Asset.CNY, Role.CNY.value, ALLIANCE_ID,
                    None),
        AccountSpec(account_id(ALLIANCE_ID, Role.MERCHANT_CREDIT_ISSUED),
                    Asset.MERCHANT_CREDIT_POINTS, Role.MERCHANT_CREDIT_ISSUED.value, ALLIANCE_ID,
                    None),
    ]
    for asset in PURSE_ROLE:
        specs.append(AccountSpec(liquidity_account(asset), asset, "liquidity", ALLIANCE_ID))
        specs.append(AccountSpec(fee_account(asset), asset, "fees", ALLIANCE_ID))
    return specs


@dataclass(frozen=True, slots=True)
class Member:
    """A member of the alliance."""

    id: str
    kind: MemberKind
    name: str
    created_at: datetime
    card_id: str | None = None
    pan_token: str | None = None
    consumer_group: str | None = None
    two_way: Ratio | None = None
    terminals: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: Any, terminals: Sequence[str] = ()) -> Member:
        two_way = None if row.two_way_num is None else Ratio(row.two_way_num, row.two_way_den)
        return cls(
            row.id, MemberKind(row.kind), row.name, from_micros(row.created_at), row.card_id,
            row.pan_token, row.consumer_group, two_way, tuple(terminals),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind.value, "name": self.name,
            "created_at": self.created_at.isoformat(), "card_id": self.card_id,
            "pan_token": self.pan_token, "consumer_group": self.consumer_group,
            "two_way": str(self.two_way) if self.two_way else None,
            "terminals": list(self.terminals),
        }


def check_member_id(member_id: object) -> str:
    if not isinstance(member_id, str) or not _MEMBER_ID.fullmatch(member_id):
        raise ValidationError(
            f"member id must be 1-64 characters of [A-Za-z0-9_.-], got {member_id!r}"
        )
    return member_id


def register_member(
    conn: Connection,
    ledger: Ledger,
    member: Member,
    *,
    at: datetime,
) -> str:
    """Add a member and open its accounts; ``exists`` when added before with the same
    attributes, :class:`IdReusedError` when the id is taken by a different member."""
    return register_members(conn, ledger, [member], at=at)[0]


def register_members(
    conn: Connection, ledger: Ledger, members: Sequence[Member], *, at: datetime
) -> list[str]:
    """Add members in bulk inside the caller's transaction (see :func:`register_member`);
    returns ``created``, ``updated`` (new terminals) or ``exists`` per member."""
    for member in members:
        _validate(member)
    ids = [m.id for m in members]
    if len(set(ids)) != len(ids):
        raise ValidationError("the same member id appears twice")
    known = {
        row.id: row
        for part in chunked(sorted(ids))
        for row in conn.execute(select(bo_members).where(bo_members.c.id.in_(part)))
    }
    answers: list[str] = []
    new: list[Member] = []
    for member in members:
        row = known.get(member.id)
        if row is None:
            answers.append("created")
            new.append(member)
            continue
        stored = Member.from_row(row, _terminals(conn, member.id))
        for name in ("kind", "name", "card_id", "pan_token", "consumer_group", "two_way"):
            if getattr(stored, name) != getattr(member, name):
                raise IdReusedError("member", member.id, name)
        extra = set(member.terminals) - set(stored.terminals)
        _add_terminals(conn, member.id, extra, at)
        answers.append("updated" if extra else "exists")
    _check_cards_free(conn, new)
    if new:
        conn.execute(insert(bo_members), [
            {"id": m.id, "kind": m.kind.value, "name": m.name, "card_id": m.card_id,
             "pan_token": m.pan_token, "consumer_group": m.consumer_group,
             "two_way_num": m.two_way.num if m.two_way else None,
             "two_way_den": m.two_way.den if m.two_way else None,
             "created_at": to_micros(at), "format_version": FORMAT_VERSION}
            for m in new
        ])
        for member in new:
            _add_terminals(conn, member.id, set(member.terminals), at)
        specs = [spec for m in new for spec in member_accounts(m.kind, m.id)]
        ledger.create_accounts_in(conn, specs, at=at)
    return answers


def _check_cards_free(conn: Connection, members: Sequence[Member]) -> None:
    """A card id or PAN token belongs to one member only."""
    for column in ("card_id", "pan_token"):
        values = [getattr(m, column) for m in members if getattr(m, column) is not None]
        if len(set(values)) != len(values):
            raise ValidationError(f"the same {column} is given to two members")
        for part in chunked(sorted(values)):
            taken = conn.execute(
                select(bo_members.c[column]).where(bo_members.c[column].in_(part))
            ).first()
            if taken is not None:
                raise ValidationError(f"{column} {taken[0]!r} already belongs to another member")


def _validate(member: Member) -> None:
    check_member_id(member.id)
    if not isinstance(member.kind, MemberKind):
        raise ValidationError(f"member {member.id}: kind must be a MemberKind")
    if member.kind is MemberKind.ALLIANCE and member.id != ALLIANCE_ID:
        raise ValidationError(f"only {ALLIANCE_ID!r} can be the alliance")
    if member.id == ALLIANCE_ID and member.kind is not MemberKind.ALLIANCE:
        raise ValidationError(f"member id {ALLIANCE_ID!r} is reserved")
    if not member.name.strip():
        raise ValidationError(f"member {member.id}: a name is required")
    is_consumer = member.kind is MemberKind.CONSUMER
    if is_consumer and not member.card_id:
        raise ValidationError(f"consumer {member.id}: a card id is required")
    if not is_consumer and (member.card_id or member.pan_token or member.consumer_group):
        raise ValidationError(f"member {member.id}: only consumers carry a card")
    if member.kind is MemberKind.MERCHANT and member.two_way is None:
        raise ValidationError(f"merchant {member.id}: a two-way rule is required")
    if member.kind is not MemberKind.MERCHANT and member.two_way:
        raise ValidationError(f"member {member.id}: only merchants have two-way rules")
    if member.terminals and member.kind not in WITH_TERMINALS:
        raise ValidationError(f"member {member.id}: only merchants, banks and insurers have "
                              "terminals")
    for value, what in ((member.card_id, "card id"), (member.pan_token, "PAN token")):
        if value is not None:
            _check_token(value, what)
    for terminal in member.terminals:
        check_terminal_id(terminal)


#: who has terminals: merchants at their tills, banks where points become money, insurers
#: where points pay a premium (each terminal acts for its own member only)
WITH_TERMINALS = (MemberKind.MERCHANT, MemberKind.BANK, MemberKind.INSURER)


def _check_token(value: str, what: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise ValidationError(f"{what} must be 1-64 characters of [A-Za-z0-9_.-], got {value!r}")


def _add_terminals(conn: Connection, merchant_id: str, terminals: set[str], at: datetime) -> None:
    if not terminals:
        return
    taken = conn.execute(
        select(bo_terminals.c.terminal_id, bo_terminals.c.merchant_id)
        .where(bo_terminals.c.terminal_id.in_(sorted(terminals)))
    ).all()
    if taken:
        raise ValidationError(f"terminal {taken[0].terminal_id} belongs to {taken[0].merchant_id}")
    conn.execute(insert(bo_terminals), [
        {"terminal_id": t, "merchant_id": merchant_id, "created_at": to_micros(at),
         "format_version": FORMAT_VERSION}
        for t in sorted(terminals)
    ])


# Plain SQL on the driver (:func:`on_driver`): a page that shows a member (the portal's
# dashboards) asks for it on every request, and building and running a statement through
# SQLAlchemy cost several times what SQLite does for it.
_MEMBER = (f"SELECT {', '.join(c.name for c in bo_members.columns)} FROM {bo_members.name} "
           "WHERE id = ?")
_TERMINALS = (f"SELECT terminal_id FROM {bo_terminals.name} WHERE merchant_id = ? "
              "ORDER BY terminal_id")


def _terminals(conn: Connection, merchant_id: str) -> list[str]:
    return [row.terminal_id for row in on_driver(conn, _TERMINALS, (merchant_id,))]


def find_member(conn: Connection, member_id: str) -> Member:
    row = on_driver(conn, _MEMBER, (member_id,)).first()
    if row is None:
        raise NotFoundError(f"no member {member_id!r}")
    return Member.from_row(row, _terminals(conn, member_id))


def list_members(conn: Connection, kind: MemberKind | None = None) -> list[Member]:
    query = select(bo_members).order_by(bo_members.c.id)
    if kind is not None:
        query = query.where(bo_members.c.kind == kind.value)
    terminals: dict[str, list[str]] = {}
    for t in conn.execute(select(bo_terminals).order_by(bo_terminals.c.terminal_id)):
        terminals.setdefault(t.merchant_id, []).append(t.terminal_id)
    return [Member.from_row(r, terminals.get(r.id, ())) for r in conn.execute(query)]


def merchant_of_terminal(conn: Connection, terminal_id: str) -> str | None:
    """The merchant a terminal is registered to (None if it is registered to none)."""
    row = conn.execute(select(bo_terminals.c.merchant_id)
                       .where(bo_terminals.c.terminal_id == terminal_id)).first()
    return None if row is None else str(row.merchant_id)
