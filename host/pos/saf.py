"""The terminal's store-and-forward queue: what the service must hear, kept until it has.

Reversals of authorisations whose answer was lost, advices of sales the card approved
offline and the outcomes of issuer scripts are written here (a SQLite file in the
terminal's data directory, ``saf.sqlite3`` beside the journal) *before* they are sent, so
they survive a lost connection, a service that is down and the terminal's own restart.
The network link (:class:`~host.pos.network_link.NetworkLink`) forwards them in the order
they were queued, each with its own STAN and DE 7 as first written, and removes one only
once the service has answered it with its MAC. A message the service refused with its
MAC (it will refuse it again) is kept, marked ``refused``, for an operator to read
(``dualcard pos saf list``); the next ones are still forwarded. One answered 94 stays
pending: its STAN is live for another request until the service's replay window passes.

Messages are stored as the dialect's bytes without a MAC (:func:`host.service.iso8583.encode`):
the link signs each one when it sends it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from apdu_specs.errors import LocalError
from host.service.iso8583 import Message, decode, encode

from .errors import POSError
from .sqlite_tx import immediate

__all__ = ["SAF_FILE", "QueuedMessage", "SAFError", "StoreAndForward"]

#: the queue's file name in the terminal's data directory
SAF_FILE = "saf.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS saf_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    message BLOB NOT NULL,
    queued_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT
);
"""


class SAFError(POSError, LocalError):
    """The store-and-forward file cannot be opened or written."""


@dataclass(frozen=True)
class QueuedMessage:
    """One message waiting for the service (or refused by it)."""

    seq: int
    kind: str  #: "reversal", "advice" or "scripts"
    message: Message
    queued_at: dt.datetime
    attempts: int
    status: str  #: "pending" or "refused"
    last_error: str | None

    @property
    def mti(self) -> str:
        return str(self.message["t"])

    @property
    def stan(self) -> int:
        return int(self.message["11"])

    def to_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "kind": self.kind, "mti": self.mti, "stan": self.stan,
                "queued_at": self.queued_at.isoformat(), "attempts": self.attempts,
                "status": self.status, "last_error": self.last_error}


class StoreAndForward:
    """The queue in the SQLite file at ``path`` (``:memory:`` keeps it in this process)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise SAFError(f"cannot open the store-and-forward queue {self.path}: {exc}") \
                from None

    def __repr__(self) -> str:
        return f"StoreAndForward({self.path}, {len(self.pending())} pending)"

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with immediate(self._db) as db:
                yield db
        except sqlite3.Error as exc:
            raise SAFError(f"the store-and-forward queue {self.path}: {exc}") from None

    def put(self, kind: str, message: Message, *, at: dt.datetime) -> int:
        """Queue ``message`` (unsigned) durably; its place in the queue."""
        with self._write() as db:
            cursor = db.execute("INSERT INTO saf_queue (kind, message, queued_at) "
                                "VALUES (?, ?, ?)", (kind, encode(message), at.isoformat()))
        return int(cursor.lastrowid or 0)

    def entries(self) -> list[QueuedMessage]:
        """Every message still held, in queue order."""
        rows = self._db.execute("SELECT seq, kind, message, queued_at, attempts, status, "
                                "last_error FROM saf_queue ORDER BY seq").fetchall()
        return [QueuedMessage(seq, kind, decode(bytes(raw)), dt.datetime.fromisoformat(at),
                              attempts, status, error)
                for seq, kind, raw, at, attempts, status, error in rows]

    def pending(self) -> list[QueuedMessage]:
        """The messages still to forward, in order."""
        return [entry for entry in self.entries() if entry.status == "pending"]

    def sent(self, seq: int) -> None:
        """The service has it: forget it."""
        with self._write() as db:
            db.execute("DELETE FROM saf_queue WHERE seq = ?", (seq,))

    def failed(self, seq: int, error: str, *, refused: bool = False) -> None:
        """An attempt that got no answer (kept pending), or a refusal (kept, not resent)."""
        with self._write() as db:
            db.execute("UPDATE saf_queue SET attempts = attempts + 1, last_error = ?, "
                       "status = ? WHERE seq = ?",
                       (error, "refused" if refused else "pending", seq))
