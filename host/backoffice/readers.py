"""The back office's record of personal readers: which reader is bound to which card.

One row per binding (card id, application, reader id, account, the reader's network
address, when bound, when unbound); at most one open row per card and application. The
card enforces the binding on its own; this record is what the authentication centre
and the branch look up (which reader to expect from where, which account it serves),
and the history of a card's readers after a rebind.

The table is created on first use (:func:`ensure_table`), so a database made before it
existed gains it without a migration step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, Column, ColumnElement, Connection, Integer, String, Table, select, update

from host.backoffice.clock import Clock, SystemClock, from_micros, to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.schema import metadata

__all__ = ["ReaderBinding", "binding_of", "ensure_table", "readers_history", "record_binding",
           "record_unbinding"]

bo_reader_bindings = Table(
    "bo_reader_bindings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("card_id", String(32), nullable=False, index=True),
    Column("aid", String(32), nullable=False),
    Column("reader_id", String(16), nullable=False, index=True),
    Column("account", String(64), nullable=False),
    Column("network_address", String(255), nullable=False),
    Column("bound_at", BigInteger, nullable=False),
    Column("unbound_at", BigInteger, nullable=True),
    Column("format_version", Integer, nullable=False, default=1),
)


@dataclass(frozen=True)
class ReaderBinding:
    card_id: str
    aid: str
    reader_id: str
    account: str
    network_address: str
    bound_at: datetime
    unbound_at: datetime | None = None


def ensure_table(db: Database) -> None:
    with db.schema_change() as conn:
        bo_reader_bindings.create(conn, checkfirst=True)


def _check(card_id: str, aid: str, reader_id: str) -> None:
    if not card_id.isdigit() or not 8 <= len(card_id) <= 19:
        raise ValidationError(f"a card id is the application's PAN (8-19 digits), got {card_id!r}")
    for name, value, length in (("an AID", aid, 32), ("a reader id", reader_id, 16)):
        try:
            if not value or len(value) > length or bytes.fromhex(value).hex().upper() != value:
                raise ValueError
        except ValueError:
            raise ValidationError(f"{name} is upper-case hex, got {value!r}") from None


def _close_open(conn: Connection, card_id: str, aid: str, at: int) -> int:
    table = bo_reader_bindings
    done = conn.execute(update(table).where(table.c.card_id == card_id, table.c.aid == aid,
                                            table.c.unbound_at.is_(None)).values(unbound_at=at))
    return int(done.rowcount or 0)


def record_binding(db: Database, card_id: str, aid: str, reader_id: str, *, account: str,
                   network_address: str, clock: Clock | None = None) -> ReaderBinding:
    """Record a (re)binding: the card's open binding, if any, is closed at the same time."""
    _check(card_id, aid, reader_id)
    at = to_micros((clock or SystemClock()).now())
    ensure_table(db)
    with db.write() as conn:
        _close_open(conn, card_id, aid, at)
        conn.execute(bo_reader_bindings.insert().values(
            card_id=card_id, aid=aid, reader_id=reader_id, account=account,
            network_address=network_address, bound_at=at, format_version=1))
    return ReaderBinding(card_id, aid, reader_id, account, network_address, from_micros(at))


def record_unbinding(db: Database, card_id: str, aid: str, *, clock: Clock | None = None) -> None:
    """Close the card's open binding; :class:`NotFoundError` if it has none."""
    at = to_micros((clock or SystemClock()).now())
    ensure_table(db)
    with db.write() as conn:
        if not _close_open(conn, card_id, aid, at):
            raise NotFoundError(f"card {card_id[:6]}… application {aid} has no reader bound")


def _rows(db: Database, *where: ColumnElement[bool]) -> list[ReaderBinding]:
    ensure_table(db)
    table = bo_reader_bindings
    with db.read() as conn:
        rows = conn.execute(select(table).where(*where).order_by(table.c.id)).mappings().all()
    return [ReaderBinding(r["card_id"], r["aid"], r["reader_id"], r["account"],
                          r["network_address"], from_micros(r["bound_at"]),
                          None if r["unbound_at"] is None else from_micros(r["unbound_at"]))
            for r in rows]


def binding_of(db: Database, card_id: str, aid: str) -> ReaderBinding | None:
    """The card application's open binding, or None."""
    table = bo_reader_bindings
    open_rows = _rows(db, table.c.card_id == card_id, table.c.aid == aid,
                      table.c.unbound_at.is_(None))
    return open_rows[-1] if open_rows else None


def readers_history(db: Database, card_id: str) -> list[ReaderBinding]:
    """Every binding the card has had, oldest first."""
    return _rows(db, bo_reader_bindings.c.card_id == card_id)
