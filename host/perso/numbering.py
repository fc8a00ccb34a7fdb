"""Card numbers that never repeat: PANs and card identities from the issuer's number store.

Theory of operation
-------------------
Every PAN and card identity the issuer gives out is a row of one table, in a database the
operators of an issuer share: an SQLite file by default, PostgreSQL by URL (the back
office's :class:`~host.backoffice.database.Database`, so the same engine settings and write
discipline). The tables are the store's own (``perso_*``, in their own metadata): a store
may live in the back office's database or in a file of its own.

``perso_cards``: one row per card — card identity (unique), PAN and PAN sequence number
(unique together), the *origin* that asked for it and the holder id (unique together),
the row in its holders file, the card it replaces, and its state: ``allocated`` (reserved
for that origin and holder) or ``issued`` (on a card that was personalised and read back).

When a card is issued its row also records the PIN's Visa PVV and the PVK index it was
computed with (``pvki``, ``pvv``; never the PIN): the authentication centre checks an
online PIN against them (:func:`pin_check_of`). A store made before these columns existed
gets them the first time it is opened for writing.

``perso_series``: for each number series — a PAN range (prefix and length) and a card
identity prefix and length — the next sequence number to try.

Origins: a batch is its profile and its holders (:func:`batch_origin`), so a batch started
again — after Ctrl-C, a missing reader, a crash — asks with the same origin and gets back
the numbers its holders already hold; nothing is allocated twice for a row. A lone holder
(``perso run --holder``) asks as :data:`RUN_ORIGIN`; a replacement card as
``replace:<card id>``.

Allocation is one write transaction under one lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL
an advisory lock), so two processes — two operators on two machines on one PostgreSQL —
never draw the same number. Numbers written in a holders file are claimed the same way:
refused when another card has them. A sequence number whose PAN or card identity exists
is skipped, so explicit numbers and overlapping ranges never collide with drawn ones.

Issued numbers are only ever used again on the card that has them (its PIN renewed), or,
for a replacement card (:meth:`NumberStore.replacement`), the PAN with the next PAN
sequence numbers (so none of the lost card's keys repeats) on a new card identity.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from host.backoffice.database import Database, chunked
from host.backoffice.errors import ConfigurationError

from .card_data import CardNumbers, mask_pan
from .errors import HolderError, NumberInUseError, NumberStoreError
from .holders import HolderRecord
from .plan import PINCheck
from .profile import Profile

__all__ = [
    "ALLOCATED",
    "ISSUED",
    "RUN_ORIGIN",
    "NumberStore",
    "batch_origin",
    "numbers_metadata",
    "pin_check_of",
    "replacement_origin",
]

ALLOCATED = "allocated"
ISSUED = "issued"
#: the origin of a lone holder's card (``perso run --holder``)
RUN_ORIGIN = "run"
#: the name of the store's lock (PostgreSQL advisory lock; SQLite's write lock is global)
_LOCK = "dualcard-perso-numbers"
#: row layout written by this code
FORMAT_VERSION = 1
#: issued marks are written in groups of this many inside :meth:`NumberStore.deferred_marks`
MARK_GROUP = 32

numbers_metadata = MetaData()

perso_series = Table(
    "perso_series",
    numbers_metadata,
    Column("series", String(64), primary_key=True),
    Column("next_number", BigInteger, nullable=False),
)

perso_cards = Table(
    "perso_cards",
    numbers_metadata,
    Column("card_id", String(19), primary_key=True),
    Column("pan", String(19), nullable=False),
    Column("psn", String(2), nullable=False),
    Column("origin", String(64), nullable=False),
    Column("holder_id", String(32), nullable=False),
    Column("holder_row", Integer, nullable=True),
    Column("state", String(9), nullable=False),
    Column("replaces", String(19), nullable=True),
    Column("allocated_at", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=True),
    Column("format_version", SmallInteger, nullable=False, default=FORMAT_VERSION),
    #: the PIN's PVV and PVK index, written when the card is issued (NULL: none on file)
    Column("pvki", String(1), nullable=True),
    Column("pvv", String(4), nullable=True),
    UniqueConstraint("pan", "psn", name="ux_perso_cards_pan_psn"),
    UniqueConstraint("origin", "holder_id", name="ux_perso_cards_origin_holder"),
)

_COLUMNS = ("card_id", "pan", "psn", "origin", "holder_id", "holder_row", "state", "replaces")
#: columns added after the first stores were made, added to an old store when it is opened
_ADDED_COLUMNS = ("pvki", "pvv")
#: one issued card waiting to be marked: its identity and the PVV it was issued with
Mark = tuple[str, PINCheck | None]
T = TypeVar("T")


def pin_check_of(conn: Connection, card_id: str) -> tuple[str, PINCheck] | None:
    """``(PAN, PVV record)`` of an issued card, or None: no such card, not issued, or
    issued without a PVV (a PIN that is not 4 digits)."""
    row = conn.execute(select(perso_cards.c.pan, perso_cards.c.pvki, perso_cards.c.pvv)
                       .where(perso_cards.c.card_id == card_id,
                              perso_cards.c.state == ISSUED)).first()
    if row is None or row.pvv is None or row.pvki is None:
        return None
    return str(row.pan), PINCheck(str(row.pvki), str(row.pvv))


def batch_origin(profile: Profile, holders: Sequence[HolderRecord]) -> str:
    """The origin of a batch: its profile and its holder records (a resumed batch has both)."""
    records = [[h.name, h.holder_id, h.pan, h.expiry, h.card_id] for h in holders]
    text = json.dumps([profile.fingerprint, records], separators=(",", ":"))
    return "batch:" + hashlib.sha256(text.encode()).hexdigest()[:32]


def replacement_origin(card_id: str) -> str:
    return f"replace:{card_id}"


def _now_us() -> int:
    return time.time_ns() // 1000


def _numbers(row: Any) -> CardNumbers:
    return CardNumbers(row.card_id, row.pan, row.psn, issued=row.state == ISSUED,
                       replaces=row.replaces)


def _agrees(row: Any, holder: HolderRecord) -> bool:
    """The holder's own numbers (if it gives any) are the ones it already holds."""
    return holder.pan in (None, row.pan) and holder.card_id in (None, row.card_id)


class _Rollback(Exception):
    """Ends a preview's transaction without keeping anything."""


class NumberStore:
    """The issuer's card numbers in a database (``url``: a URL or an SQLite file path)."""

    def __init__(self, url: str | os.PathLike[str], *,
                 clock: Callable[[], int] = _now_us) -> None:
        try:
            self.db = Database(os.fspath(url), ledger=False)
        except ConfigurationError as exc:
            raise NumberStoreError(f"number store: {exc}") from None
        self.where = make_url(self.db.url).render_as_string(hide_password=True)
        self._clock = clock
        self._ready = False
        self._marks: list[Mark] | None = None

    def __repr__(self) -> str:
        return f"NumberStore({self.where})"

    def __enter__(self) -> NumberStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.dispose()

    # --- allocating ---------------------------------------------------------------------------

    def allocate(self, profile: Profile, holders: Sequence[HolderRecord],
                 origin: str) -> dict[int, CardNumbers]:
        """The numbers of each holder (by index): those it holds for ``origin``, else new ones."""
        return self._write(lambda a: a.holders(profile, origin, holders))

    def replacement(self, profile: Profile, holder: HolderRecord,
                    replaced: str) -> CardNumbers:
        """The numbers of a card replacing ``replaced``: its PAN, the next PAN sequence numbers,
        a card identity of its own (the holder's, or a new one)."""
        return self._write(lambda a: a.replacement(profile, holder, replaced))

    def preview(self, profile: Profile, holders: Sequence[HolderRecord],
                origin: str) -> dict[int, CardNumbers]:
        """What :meth:`allocate` would give now, keeping nothing (a dry run)."""
        return self._preview(lambda a: a.holders(profile, origin, holders))

    def preview_replacement(self, profile: Profile, holder: HolderRecord,
                            replaced: str) -> CardNumbers:
        return self._preview(lambda a: a.replacement(profile, holder, replaced))

    # --- issued cards -------------------------------------------------------------------------

    def mark_issued(self, card_id: str, pin_check: PINCheck | None = None) -> None:
        """Record that the card with ``card_id`` was issued, with the PVV of the PIN it was
        issued with (at once, or with the group)."""
        if self._marks is None:
            self._write_marks([(card_id, pin_check)])
            return
        self._marks.append((card_id, pin_check))
        if len(self._marks) >= MARK_GROUP:
            self._write_marks(self._marks)
            self._marks = []

    @contextmanager
    def deferred_marks(self) -> Iterator[None]:
        """Write issued marks in groups (a batch: its journal, synced per card, covers the
        cards of a group lost in a crash, see :meth:`confirm_issued`); the rest at the end."""
        self._marks = []
        try:
            yield
        finally:
            marks, self._marks = self._marks, None
            if marks:
                self._write_marks(marks)

    def confirm_issued(self, origin: str, issued: Mapping[str, str]) -> None:
        """Mark the cards a batch's journal says were issued (holder id → card id); refuse a
        store that does not hold them (another store than the one the batch began with)."""
        if issued:
            self._write(lambda a: a.confirm(origin, issued))

    # --- plumbing -----------------------------------------------------------------------------

    def _write_marks(self, marks: Sequence[Mark]) -> None:
        self._write(lambda a: a.mark_issued(marks))

    def _write(self, work: Callable[[_Allocation], T]) -> T:
        self._ensure_schema()
        with self._errors(), self.db.write() as conn:
            self.db.lock_key(conn, _LOCK)
            return work(_Allocation(self.db, conn, self._clock(), self.where))

    def _preview(self, work: Callable[[_Allocation], T]) -> T:
        """``work`` in a transaction that is rolled back; on an empty store when there is
        none yet (a dry run creates nothing)."""
        if not self._present():
            with NumberStore("sqlite://", clock=self._clock) as empty:
                return empty._write(work)
        result: list[T] = []
        try:
            with self._errors(), self.db.write() as conn:
                self.db.lock_key(conn, _LOCK)
                result.append(work(_Allocation(self.db, conn, self._clock(), self.where)))
                raise _Rollback
        except _Rollback:
            pass
        return result[0]

    def _sqlite_path(self) -> Path | None:
        database = make_url(self.db.url).database
        if not self.db.is_sqlite or database in (None, "", ":memory:"):
            return None
        return Path(str(database))

    def _present(self) -> bool:
        path = self._sqlite_path()
        if path is not None and not path.exists():
            return False
        with self._errors(), self.db.read() as conn:
            return bool(conn.dialect.has_table(conn, perso_cards.name))

    def _ensure_schema(self) -> None:
        """Create the tables (once per store object); a new SQLite file is private (0600)."""
        if self._ready:
            return
        path = self._sqlite_path()
        if path is not None and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._errors(), self.db.write() as conn:
            self.db.lock_key(conn, _LOCK)
            numbers_metadata.create_all(conn)
            _add_missing_columns(conn)
        self._ready = True

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise NumberStoreError(f"number store {self.where}: {reason}") from None


def _add_missing_columns(conn: Connection) -> None:
    """Give a store made before :data:`_ADDED_COLUMNS` existed those columns (nullable)."""
    present = {c["name"] for c in inspect(conn).get_columns(perso_cards.name)}
    for name in _ADDED_COLUMNS:
        if name not in present:
            column = perso_cards.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {perso_cards.name} ADD COLUMN {name} {kind}"))


class _Allocation:
    """The work of one write transaction; the store's lock is held."""

    def __init__(self, db: Database, conn: Connection, now: int, where: str) -> None:
        self.db = db
        self.conn = conn
        self.now = now
        self.where = where

    # --- reading ------------------------------------------------------------------------------

    def rows_where(self, column: str, values: Sequence[str]) -> list[Any]:
        return self.db.rows_where_in(self.conn, perso_cards, _COLUMNS, column, values)

    def held(self, origin: str, holder_ids: Sequence[str]) -> dict[str, Any]:
        """The rows ``origin`` holds, by holder id (read through the (origin, holder) index)."""
        columns = [perso_cards.c[name] for name in _COLUMNS]
        held: dict[str, Any] = {}
        for part in chunked(holder_ids):
            query = select(*columns).where(perso_cards.c.origin == origin,
                                           perso_cards.c.holder_id.in_(part))
            held.update((row.holder_id, row) for row in self.conn.execute(query))
        return held

    # --- allocating ---------------------------------------------------------------------------

    def holders(self, profile: Profile, origin: str,
                holders: Sequence[HolderRecord]) -> dict[int, CardNumbers]:
        held = self.held(origin, [h.holder_id for h in holders])
        out: dict[int, CardNumbers] = {}
        new: list[HolderRecord] = []
        for holder in holders:
            row = held.get(holder.holder_id)
            if row is not None and _agrees(row, holder):
                out[holder.index] = _numbers(row)
                continue
            if row is not None:
                self.give_back(row, holder)
            new.append(holder)
        out.update(self.new_cards(profile, origin, new))
        return out

    def give_back(self, row: Any, holder: HolderRecord) -> None:
        """Drop a reservation the holder's own numbers no longer agree with (never an issued
        card's numbers: those stay that card's)."""
        if row.state == ISSUED:
            raise NumberInUseError(
                f"holder row {holder.row} ({holder.holder_id}): card {row.card_id} "
                f"(PAN {mask_pan(row.pan)}) was issued to this holder with other numbers; "
                f"a new card for the holder is a replacement (--replaces {row.card_id})")
        self.conn.execute(perso_cards.delete().where(perso_cards.c.card_id == row.card_id))

    def new_cards(self, profile: Profile, origin: str,
                  holders: Sequence[HolderRecord]) -> dict[int, CardNumbers]:
        if not holders:
            return {}
        self.check_claims(holders)
        card_ids = iter(self.draw_card_ids(profile, holders))
        pans = iter(self.draw_pans(profile, holders))
        out = {h.index: CardNumbers(h.card_id or next(card_ids), h.pan or next(pans),
                                    profile.card.psn) for h in holders}
        self.insert(origin, [(h, out[h.index]) for h in holders])
        return out

    def insert(self, origin: str, cards: Sequence[tuple[HolderRecord, CardNumbers]]) -> None:
        rows = [{"card_id": n.card_id, "pan": n.pan, "psn": n.psn, "origin": origin,
                 "holder_id": h.holder_id, "holder_row": h.row, "state": ALLOCATED,
                 "replaces": n.replaces, "allocated_at": self.now,
                 "format_version": FORMAT_VERSION} for h, n in cards]
        for part in chunked(rows):
            self.conn.execute(perso_cards.insert(), list(part))

    def check_claims(self, holders: Sequence[HolderRecord]) -> None:
        """Numbers a holder brings must be nobody's yet."""
        for column, what in (("pan", "PAN"), ("card_id", "card id")):
            claims = {getattr(h, column): h for h in holders if getattr(h, column)}
            for row in self.rows_where(column, list(claims)):
                holder = claims[getattr(row, column)]
                shown = mask_pan(row.pan) if column == "pan" else row.card_id
                raise NumberInUseError(
                    f"holder row {holder.row} ({holder.holder_id}): {what} {shown} is already "
                    f"card {row.card_id}'s ({row.state}); a number is never given to two "
                    f"cards (a replacement card: perso run --replaces {row.card_id})")

    def draw_card_ids(self, profile: Profile, holders: Sequence[HolderRecord]) -> list[str]:
        card = profile.card
        count = sum(1 for h in holders if h.card_id is None)
        claimed = {h.card_id for h in holders if h.card_id}
        return self.draw(f"card {card.id_prefix}/{card.id_length}", 1, card.card_id_at,
                         "card_id", count, claimed)

    def draw_pans(self, profile: Profile, holders: Sequence[HolderRecord]) -> list[str]:
        missing = [h for h in holders if h.pan is None]
        pan_range = profile.card.pan_range
        if missing and pan_range is None:
            raise HolderError(f"holder row {missing[0].row}", "pan",
                              "is empty and the profile has no card.pan_range")
        if pan_range is None:
            return []
        claimed = {h.pan for h in holders if h.pan}
        return self.draw(f"pan {pan_range.prefix}/{pan_range.length}", pan_range.first,
                         pan_range.pan_at, "pan", len(missing), claimed)

    def draw(self, series: str, first: int, make: Callable[[int], str], column: str,
             count: int, claimed: set[str]) -> list[str]:
        """``count`` numbers of ``series`` in order, skipping any a card (or a claim) has."""
        if count == 0:
            return []
        stored = self.conn.execute(select(perso_series.c.next_number)
                                   .where(perso_series.c.series == series)).scalar()
        start = first if stored is None else max(first, int(stored))
        drawn: list[str] = []
        while len(drawn) < count:
            window = [make(n) for n in range(start, start + count - len(drawn))]
            taken = claimed | {getattr(r, column) for r in self.rows_where(column, window)}
            drawn += [value for value in window if value not in taken]
            start += len(window)
        if stored is None:
            self.conn.execute(perso_series.insert(), {"series": series, "next_number": start})
        else:
            self.conn.execute(perso_series.update().where(perso_series.c.series == series)
                              .values(next_number=start))
        return drawn

    # --- replacement cards --------------------------------------------------------------------

    def replacement(self, profile: Profile, holder: HolderRecord,
                    replaced: str) -> CardNumbers:
        origin = replacement_origin(replaced)
        row = self.held(origin, [holder.holder_id]).get(holder.holder_id)
        if row is not None and _agrees(row, holder):
            return _numbers(row)
        if row is not None:
            self.give_back(row, holder)
        old = self.replaced_card(holder, replaced)
        psn = self.next_psn(profile, old.pan)
        card = dataclasses.replace(holder, pan=None)  # the PAN is the replaced card's own
        self.check_claims([card])
        card_id = holder.card_id or self.draw_card_ids(profile, [card])[0]
        numbers = CardNumbers(card_id, old.pan, psn, replaces=replaced)
        self.insert(origin, [(holder, numbers)])
        return numbers

    def replaced_card(self, holder: HolderRecord, replaced: str) -> Any:
        rows = self.rows_where("card_id", [replaced])
        if not rows or rows[0].state != ISSUED:
            raise NumberStoreError(f"card {replaced} was never issued from this number store: "
                                   "there is nothing to replace")
        old = rows[0]
        if old.holder_id != holder.holder_id:
            raise NumberInUseError(f"card {replaced} belongs to holder {old.holder_id}, "
                                   f"not {holder.holder_id}")
        if holder.pan not in (None, old.pan):
            raise NumberInUseError(f"a replacement card keeps the PAN of card {replaced} "
                                   f"({mask_pan(old.pan)})")
        return old

    def next_psn(self, profile: Profile, pan: str) -> str:
        """PAN sequence numbers after every one the PAN's cards use (each payment application
        of a card takes the next one, and the card keys are derived from PAN and PSN)."""
        fixed = [spec.label for spec in profile.payment_apps
                 if spec.payment is not None and spec.payment.psn]
        if fixed:
            raise NumberInUseError(f"the profile fixes the PAN sequence number of {fixed[0]}: "
                                   "a replacement with the same PAN would repeat the keys of "
                                   "the card it replaces")
        used = max(int(r.psn) for r in self.rows_where("pan", [pan]))
        step = max(1, len(profile.payment_apps))
        if used + 2 * step - 1 > 99:
            raise NumberInUseError(f"PAN {mask_pan(pan)} has used up its PAN sequence numbers")
        return f"{used + step:02d}"

    # --- issued cards -------------------------------------------------------------------------

    def mark_issued(self, marks: Sequence[Mark]) -> None:
        """Mark allocated cards issued; a card with a PVV gets it, also when it was issued
        before (its PIN was issued again)."""
        for part in chunked(sorted({card_id for card_id, _ in marks})):
            self.conn.execute(perso_cards.update()
                              .where(perso_cards.c.card_id.in_(part),
                                     perso_cards.c.state == ALLOCATED)
                              .values(state=ISSUED, issued_at=self.now))
        checks = [{"key": card_id, "pvki": check.pvki, "pvv": check.pvv}
                  for card_id, check in marks if check is not None]
        if checks:
            self.conn.execute(perso_cards.update()
                              .where(perso_cards.c.card_id == bindparam("key"))
                              .values(pvki=bindparam("pvki"), pvv=bindparam("pvv")), checks)

    def confirm(self, origin: str, issued: Mapping[str, str]) -> None:
        held = self.held(origin, list(issued))
        for holder_id, card_id in issued.items():
            row = held.get(holder_id)
            if row is None or row.card_id != card_id:
                has = f"card {row.card_id}" if row is not None else "no card"
                raise NumberStoreError(
                    f"number store {self.where}: the audit file says card {card_id} was "
                    f"issued to holder {holder_id}, the store has {has} for this batch; use "
                    "the store the batch began with")
        self.mark_issued([(card_id, None) for card_id in issued.values()])
