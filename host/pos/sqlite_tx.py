"""One write transaction on a terminal's own SQLite files (journal, store-and-forward
queue, STAN counter): ``BEGIN IMMEDIATE`` takes the write lock at once, so two processes of
one terminal take turns instead of failing half way; committed on success, rolled back on
any error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["immediate"]


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
