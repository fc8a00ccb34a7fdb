"""The live record of every card (F15): each movement (issue, pay, refund, expire, claim)
with the card's principal and bonus right after it, written in the transaction that posts
it; and the cards' current state, kept beside it in ``pp_cards``. A card's balance as of
any time is the ``*_after`` of its last movement at or before that time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import chunked, insert_rows
from host.backoffice.errors import NotFoundError
from host.backoffice.prepaid.drawing import CardView
from host.backoffice.prepaid.schema import FORMAT_VERSION, pp_cards, pp_movements

__all__ = ["Card", "Movement", "card_history", "cards_by_number", "load_cards",
           "record_movements", "set_left", "set_status", "write_movements"]

_M = pp_movements
_C = pp_cards
_MOVEMENT_COLUMNS = ("card_no", "kind", "request_id", "principal_delta", "bonus_delta",
                     "principal_after", "bonus_after", "transfer_id", "ts", "format_version")


@dataclass(frozen=True, slots=True)
class Card:
    """A sub-card as the prepaid tables keep it."""

    card_no: str
    account_id: str
    program_id: str
    merchant_id: str
    holder_id: str
    purchase_id: str
    sequence: int
    principal_paid: int
    bonus_given: int
    principal_left: int
    bonus_left: int
    use_price: int | None
    expires_at: int | None
    priority: int
    status: str
    holder_kind: str = "registered"  # or anonymous: which per-card cap it was issued under

    @classmethod
    def from_row(cls, row: Any) -> Card:
        return cls(row.card_no, row.account_id, row.program_id, row.merchant_id, row.holder_id,
                   row.purchase_id, row.sequence, row.principal_paid, row.bonus_given,
                   row.principal_left, row.bonus_left, row.use_price, row.expires_at,
                   row.priority, row.status, row.holder_kind or "registered")

    @property
    def balance(self) -> int:
        return self.principal_left + self.bonus_left

    @property
    def uses_left(self) -> int | None:
        """A count card's uses left (its balance in whole uses)."""
        return None if self.use_price is None else self.balance // self.use_price

    def view(self) -> CardView:
        return CardView(self.card_no, self.principal_left, self.bonus_left, self.expires_at,
                        self.priority, self.sequence)

    def as_dict(self) -> dict[str, Any]:
        return {
            "card": self.card_no, "account": self.account_id, "program": self.program_id,
            "merchant": self.merchant_id, "holder": self.holder_id,
            "purchase": self.purchase_id, "principal_paid": self.principal_paid,
            "bonus_given": self.bonus_given, "principal": self.principal_left,
            "bonus": self.bonus_left, "balance": self.balance, "uses_left": self.uses_left,
            "expires_at": None if self.expires_at is None
            else from_micros(self.expires_at).isoformat(),
            "status": self.status, "holder_kind": self.holder_kind,
        }


#: One movement of one card, ``(card_no, kind, principal_delta, bonus_delta, transfer_id)``:
#: signed changes to its principal and bonus. A plain tuple: a claim makes 100,000 at once,
#: and the cyclic collector stops scanning a plain tuple of plain values (never an object).
Movement = tuple[str, str, int, int, str]


def load_cards(conn: Connection, *conditions: Any) -> list[Card]:
    """Cards matching ``conditions``, in issue order."""
    query = select(_C).where(*conditions).order_by(_C.c.program_id, _C.c.sequence)
    return [Card.from_row(row) for row in conn.execute(query)]


def cards_by_number(conn: Connection, card_nos: Sequence[str]) -> dict[str, Card]:
    found: dict[str, Card] = {}
    for part in chunked(sorted(set(card_nos))):
        for row in conn.execute(select(_C).where(_C.c.card_no.in_(part))):
            found[row.card_no] = Card.from_row(row)
    return found


def record_movements(
    conn: Connection, request_id: str, movements: Sequence[Movement],
    before: Mapping[str, tuple[int, int]], *, at: datetime,
) -> None:
    """Write the movements of one operation and move the cards' live principal and bonus;
    ``before`` holds each card's (principal, bonus) before the operation, as read in this
    transaction."""
    left = write_movements(conn, request_id, movements, before, at=at)
    set_left(conn, [(p, b, no) for no, (p, b) in left.items() if (p, b) != before[no]])


def write_movements(
    conn: Connection, request_id: str, movements: Sequence[Movement],
    before: Mapping[str, tuple[int, int]], *, at: datetime,
) -> dict[str, tuple[int, int]]:
    """The movements' rows alone; returns each card's (principal, bonus) after them (the
    caller moves the cards: a claim empties all of its cards in one statement)."""
    ts = to_micros(at)
    left = dict(before)
    rows = []
    for card_no, kind, principal_delta, bonus_delta, transfer_id in movements:
        principal, bonus = left[card_no]
        principal, bonus = principal + principal_delta, bonus + bonus_delta
        left[card_no] = (principal, bonus)
        rows.append((card_no, kind, request_id, principal_delta, bonus_delta,
                     principal, bonus, transfer_id, ts, FORMAT_VERSION))
    insert_rows(conn, _M, _MOVEMENT_COLUMNS, rows)
    return left


def set_left(conn: Connection, rows: Sequence[tuple[int, int, str]]) -> None:
    """``(principal, bonus, card_no)`` rows: the cards' live principal and bonus."""
    if rows:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"UPDATE pp_cards SET principal_left = {mark}, bonus_left = {mark} "
            f"WHERE card_no = {mark}", list(rows))


def set_status(conn: Connection, card_nos: Sequence[str], status: str) -> None:
    for part in chunked(sorted(card_nos)):
        conn.execute(_C.update().where(_C.c.card_no.in_(part)).values(status=status))


def card_history(conn: Connection, card_no: str, *, as_of: datetime | None = None
                 ) -> list[dict[str, Any]]:
    """A card's movements up to ``as_of`` (all when None), oldest first."""
    if conn.execute(select(_C.c.card_no).where(_C.c.card_no == card_no)).first() is None:
        raise NotFoundError(f"no prepaid card {card_no!r}")
    query = select(_M).where(_M.c.card_no == card_no).order_by(_M.c.seq)
    if as_of is not None:
        query = query.where(_M.c.ts <= to_micros(as_of))
    return [{
        "at": from_micros(r.ts).isoformat(), "kind": r.kind, "request": r.request_id,
        "principal": r.principal_delta, "bonus": r.bonus_delta,
        "principal_after": r.principal_after, "bonus_after": r.bonus_after,
        "balance_after": r.principal_after + r.bonus_after, "transfer": r.transfer_id,
    } for r in conn.execute(query)]
