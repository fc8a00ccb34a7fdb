"""Checkpoints of an SQLite ledger's write-ahead log, moved off the writers' commits.

By default SQLite checkpoints inside a commit: the transaction that pushes the log past
1,000 pages copies the log into the database file and waits for the disk before it
returns. For a service that answers terminals in groups (D47) that is one group in a few
dozen waiting tens of milliseconds longer: the tail of its latency (D58). While a
:class:`BackgroundCheckpoints` runs, its database's connections do not checkpoint when
they commit (``wal_autocheckpoint=0``) and a thread of its own checkpoints every
``every_s`` seconds instead (a quarter of a second by default: each pass flushes the
file, and the disk's flushes are shared with the commits', but a pass that copies four
times less holds the disk and a core for less: D62), ``PASSIVE``: it never waits for a
writer nor blocks one, and what a reader still needs stays in the log until the next
pass. A commit is as durable as before (each waits for the disk as its write asked);
only the copy into the database file moves. When the checkpointer stops it checkpoints
once more, and the connections made after it checkpoint as they commit again.

SQLite writes its log from the beginning again only when a write begins after a
checkpoint copied all of it, which a pass beside a busy writer never sees (D62): past
:data:`RESTART_AFTER` pages in the log, a pass asks the database's writers to finish the
copy themselves (:meth:`Database.restart_log
<host.backoffice.database.Database.restart_log>`), so the log stays a few seconds long
instead of growing for as long as the load lasts.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from types import TracebackType

from host.backoffice.database import Database, sqlite_file

__all__ = ["BackgroundCheckpoints"]

LOGGER = logging.getLogger("dualcard.backoffice")

#: pages in the log (16 MiB of 4 KiB pages) past which the writers are asked to let it
#: start again (:meth:`Database.restart_log`)
RESTART_AFTER = 4096


class BackgroundCheckpoints:
    """A thread checkpointing ``db``'s log while running (nothing for PostgreSQL or an
    in-memory database, which have no log file to copy)."""

    def __init__(self, db: Database, *, every_s: float = 0.25,
                 restart_after: int = RESTART_AFTER) -> None:
        self.db = db
        self.every_s = every_s
        #: pages in the log past which a pass asks the writers to start it again
        self.restart_after = restart_after
        self.passes = 0  #: checkpoints made (a test's and an operator's measure)
        self._path = sqlite_file(db.url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> BackgroundCheckpoints:
        if self._path is None or self._thread is not None:
            return self
        self.db.commits_checkpoint(False)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dualcard-checkpoints",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.db.commits_checkpoint(True)

    def __enter__(self) -> BackgroundCheckpoints:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        assert self._path is not None
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.every_s):
                self._checkpoint(conn)
            self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            _busy, in_log, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # the next pass tries again; a commit never waits
            LOGGER.warning("checkpoint failed: %s", exc,
                           extra={"fields": {"event": "checkpoint_failed"}})
            return
        self.passes += 1
        if in_log >= self.restart_after:  # a busy writer never lets it start again alone
            self.db.restart_log()
