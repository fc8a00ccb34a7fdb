"""The terminal's STAN counter, kept in its data directory across restarts.

The service refuses a STAN the terminal used within its replay window (response code
94). A counter started from the clock (:class:`~host.pos.network_link.StanCounter`) is
safe only while the terminal sent fewer messages than seconds went by since its last
start; a terminal restarted after a busy spell would send STANs of its last run again.
This counter keeps the last STAN given out in a SQLite file (``stan.sqlite3`` beside the
journal, as the store-and-forward queue keeps its file), written durably before the STAN
is used: a restarted terminal, or a second process of the same terminal, goes on from it.
The first STAN of a new file comes from the clock, as before, so a terminal whose file
was lost is no worse off than one without.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from apdu_specs.errors import LocalError

from .errors import POSError
from .sqlite_tx import immediate

__all__ = ["STAN_FILE", "STAN_MAX", "PersistentStanCounter", "StanFileError"]

#: the counter's file name in the terminal's data directory
STAN_FILE = "stan.sqlite3"
#: DE 11 holds six digits; 0 is never sent
STAN_MAX = 999_999

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stan_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
"""


class StanFileError(POSError, LocalError):
    """The STAN counter's file cannot be opened or written."""


class PersistentStanCounter:
    """STANs 1..999999 in turn, the last one given out kept in the SQLite file at ``path``;
    a new file starts after ``start`` (default: the clock's seconds)."""

    def __init__(self, path: str | Path, *, start: int | None = None) -> None:
        self.path = str(path)
        first = (start if start is not None else int(time.time())) % STAN_MAX or 1
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO stan_counter (id, last) VALUES (1, ?)",
                             (first - 1,))
        except sqlite3.Error as exc:
            raise StanFileError(f"cannot open the STAN counter {self.path}: {exc}") from None

    def __repr__(self) -> str:
        return f"PersistentStanCounter({self.path})"

    def __call__(self) -> int:
        """The next STAN, on disk before it is returned (shared with other processes)."""
        try:
            with immediate(self._db) as db:
                last = db.execute("SELECT last FROM stan_counter WHERE id = 1").fetchone()[0]
                stan = int(last) % STAN_MAX + 1
                db.execute("UPDATE stan_counter SET last = ? WHERE id = 1", (stan,))
        except sqlite3.Error as exc:
            raise StanFileError(f"the STAN counter {self.path}: {exc}") from None
        return stan

    def close(self) -> None:
        self._db.close()
