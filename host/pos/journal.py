"""The terminal journal: every transaction on disk before the holder hears the outcome.

One SQLite file at the terminal (or ``:memory:`` for tests and benchmarks). Each step of
a transaction is committed before the next card command is sent, so after a crash or a
pulled card the journal says exactly how far it got:

- ``pos_transactions`` — one row per transaction: kind, status, stage, the result so far
  (JSON) and the error that stopped it;
- ``pos_card_records`` — the card-proven records the back office clears (a chip 1
  payment with its cryptogram, a chip 2 load or spend with its TAC), in the back office's
  own JSON form, each assigned to a batch when the batch is closed;
- ``pos_pending`` — a chip 2 movement sent but not answered (what GET TRANSACTION PROVE
  needs), until it is reconciled;
- ``pos_batches`` — closed batches: the same batch id is uploaded again until the back
  office has answered, and clearing is idempotent by that id.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.records.batch import BATCH_FORMAT, Record, TerminalBatch, parse_batch, record_to_dict
from host.records.errors import InvalidRecordError

from .errors import JournalError
from .records import TxnKind, TxnStatus
from .sqlite_tx import immediate

__all__ = ["FORMAT_VERSION", "BatchEntry", "Journal", "JournalEntry", "PendingEntry"]

FORMAT_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pos_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pos_transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    txn_id TEXT UNIQUE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT NOT NULL,
    amount INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    error TEXT,
    format_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pos_card_records (
    record_id TEXT PRIMARY KEY,
    txn_id TEXT NOT NULL,
    body TEXT NOT NULL,
    batch_id TEXT,
    format_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pos_pending (
    txn_id TEXT NOT NULL,
    slot TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (txn_id, slot)
);
CREATE TABLE IF NOT EXISTS pos_batches (
    batch_id TEXT PRIMARY KEY,
    number INTEGER NOT NULL,
    closed_at TEXT NOT NULL,
    uploaded_at TEXT,
    status TEXT NOT NULL,
    receipt TEXT,
    format_version INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class JournalEntry:
    """One transaction as the journal holds it."""

    seq: int
    txn_id: str
    kind: TxnKind
    status: TxnStatus
    stage: str
    amount: int
    created_at: dt.datetime
    updated_at: dt.datetime
    summary: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class PendingEntry:
    """A chip 2 movement waiting to be reconciled."""

    txn_id: str
    slot: str
    body: dict[str, Any]


@dataclass(frozen=True)
class BatchEntry:
    batch_id: str
    number: int
    closed_at: dt.datetime
    status: str  #: "closed" (not yet accepted), "created" or "exists" (cleared), "rejected"
    uploaded_at: dt.datetime | None
    receipt: dict[str, Any] | None


class Journal:
    """The journal of one terminal (``terminal_id``: 12 hex digits)."""

    def __init__(self, path: str | Path = ":memory:", *, terminal_id: str) -> None:
        self.path = str(path)
        self.terminal_id = terminal_id.upper()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:"
                             else "PRAGMA journal_mode=MEMORY")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._check_terminal()
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the terminal journal {self.path}: {exc}") from None

    def __repr__(self) -> str:
        return f"Journal({self.path}, terminal {self.terminal_id})"

    def close(self) -> None:
        self._db.close()

    def _check_terminal(self) -> None:
        with self._write() as db:
            row = db.execute("SELECT value FROM pos_meta WHERE key='terminal_id'").fetchone()
            if row is None:
                db.execute("INSERT INTO pos_meta VALUES ('terminal_id', ?), ('format', ?)",
                           (self.terminal_id, str(FORMAT_VERSION)))
            elif row[0] != self.terminal_id:
                raise JournalError(f"{self.path} is the journal of terminal {row[0]}, "
                                   f"not {self.terminal_id}")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

    # -- transactions -----------------------------------------------------------------------

    def begin(self, kind: TxnKind, amount: int, when: dt.datetime, summary: dict[str, Any]) -> str:
        """Record a new transaction (committed); its id, ``000001`` onwards."""
        stamp = when.isoformat()
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO pos_transactions (kind, status, stage, amount, created_at, "
                "updated_at, summary, format_version) VALUES (?, ?, 'start', ?, ?, ?, ?, ?)",
                (kind.value, TxnStatus.STARTED.value, amount, stamp, stamp, json.dumps(summary),
                 FORMAT_VERSION))
            seq = int(cursor.lastrowid or 0)
            txn_id = f"{seq:06d}"
            db.execute("UPDATE pos_transactions SET txn_id=? WHERE seq=?", (txn_id, seq))
        return txn_id

    def update(self, txn_id: str, *, stage: str, when: dt.datetime,
               status: TxnStatus | None = None, summary: dict[str, Any] | None = None,
               error: str | None = None, records: tuple[Record, ...] = (),
               clear_slot: str | None = None) -> None:
        """Move a transaction on (committed), adding the card records it produced and
        closing the pending movement ``clear_slot`` they settle, all in one commit."""
        sets, args = ["stage=?", "updated_at=?"], [stage, when.isoformat()]
        if status is not None:
            sets.append("status=?")
            args.append(status.value)
        if summary is not None:
            sets.append("summary=?")
            args.append(json.dumps(summary))
        if error is not None:
            sets.append("error=?")
            args.append(error)
        with self._write() as db:
            changed = db.execute(f"UPDATE pos_transactions SET {', '.join(sets)} WHERE txn_id=?",
                                 (*args, txn_id)).rowcount
            if changed != 1:
                raise JournalError(f"no transaction {txn_id} in the journal")
            db.executemany(
                "INSERT INTO pos_card_records (record_id, txn_id, body, format_version) "
                "VALUES (?, ?, ?, ?)",
                [(r.record_id, txn_id, json.dumps(record_to_dict(r)), FORMAT_VERSION)
                 for r in records])
            if clear_slot is not None:
                db.execute("DELETE FROM pos_pending WHERE txn_id=? AND slot=?",
                           (txn_id, clear_slot))

    def entry(self, txn_id: str) -> JournalEntry:
        row = self._db.execute(_SELECT + " WHERE txn_id=?", (txn_id,)).fetchone()
        if row is None:
            raise JournalError(f"no transaction {txn_id} in the journal")
        return _entry(row)

    def entries(self, *, status: TxnStatus | None = None) -> list[JournalEntry]:
        """Transactions in order, optionally only those with ``status``."""
        if status is None:
            rows = self._db.execute(_SELECT + " ORDER BY seq").fetchall()
        else:
            rows = self._db.execute(_SELECT + " WHERE status=? ORDER BY seq",
                                    (status.value,)).fetchall()
        return [_entry(r) for r in rows]

    # -- pending chip 2 movements -----------------------------------------------------------

    def set_pending(self, txn_id: str, slot: str, body: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO pos_pending VALUES (?, ?, ?)",
                       (txn_id, slot, json.dumps(body)))

    def clear_pending(self, txn_id: str, slot: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM pos_pending WHERE txn_id=? AND slot=?", (txn_id, slot))

    def pending(self) -> list[PendingEntry]:
        rows = self._db.execute("SELECT txn_id, slot, body FROM pos_pending "
                                "ORDER BY txn_id, slot").fetchall()
        return [PendingEntry(t, s, json.loads(b)) for t, s, b in rows]

    # -- batches ----------------------------------------------------------------------------

    def unbatched_records(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM pos_card_records "
                                    "WHERE batch_id IS NULL").fetchone()[0])

    def close_batch(self, when: dt.datetime) -> str | None:
        """Put every record not yet in a batch into a new batch; its id (None: nothing)."""
        with self._write() as db:
            if not db.execute("SELECT 1 FROM pos_card_records WHERE batch_id IS NULL "
                              "LIMIT 1").fetchone():
                return None
            number = int(db.execute("SELECT coalesce(max(number), 0) + 1 FROM pos_batches")
                         .fetchone()[0])
            batch_id = f"{self.terminal_id}-B{number:05d}"
            db.execute("INSERT INTO pos_batches (batch_id, number, closed_at, status, "
                       "format_version) VALUES (?, ?, ?, 'closed', ?)",
                       (batch_id, number, when.isoformat(), FORMAT_VERSION))
            db.execute("UPDATE pos_card_records SET batch_id=? WHERE batch_id IS NULL",
                       (batch_id,))
        return batch_id

    def batch(self, batch_id: str) -> TerminalBatch:
        """The batch in the back office's format, exactly as it was closed."""
        rows = self._db.execute("SELECT body FROM pos_card_records WHERE batch_id=? "
                                "ORDER BY rowid", (batch_id,)).fetchall()
        if not rows:
            raise JournalError(f"no batch {batch_id} in the journal")
        try:
            return parse_batch({"format": BATCH_FORMAT, "batch_id": batch_id,
                                "terminal_id": self.terminal_id,
                                "records": [json.loads(body) for (body,) in rows]})
        except InvalidRecordError as exc:
            raise JournalError(f"batch {batch_id} cannot be rebuilt: {exc}") from None

    def batches(self, *, uploaded: bool | None = None) -> list[BatchEntry]:
        query = ("SELECT batch_id, number, closed_at, status, uploaded_at, receipt "
                 "FROM pos_batches")
        if uploaded is True:
            query += " WHERE uploaded_at IS NOT NULL"
        elif uploaded is False:
            query += " WHERE uploaded_at IS NULL"
        return [BatchEntry(b, n, dt.datetime.fromisoformat(c), s,
                           dt.datetime.fromisoformat(u) if u else None,
                           json.loads(r) if r else None)
                for b, n, c, s, u, r in self._db.execute(query + " ORDER BY number")]

    def mark_uploaded(self, batch_id: str, *, status: str, when: dt.datetime,
                      receipt: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute("UPDATE pos_batches SET status=?, uploaded_at=?, receipt=? "
                       "WHERE batch_id=?",
                       (status, when.isoformat(), json.dumps(receipt, default=str), batch_id))


_SELECT = ("SELECT seq, txn_id, kind, status, stage, amount, created_at, updated_at, summary, "
           "error FROM pos_transactions")


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    seq, txn_id, kind, status, stage, amount, created, updated, summary, error = row
    try:
        return JournalEntry(seq, txn_id, TxnKind(kind), TxnStatus(status), stage, amount,
                            dt.datetime.fromisoformat(created), dt.datetime.fromisoformat(updated),
                            json.loads(summary), error)
    except (ValueError, json.JSONDecodeError) as exc:
        raise JournalError(f"journal row {seq} is unreadable: {exc}") from None
