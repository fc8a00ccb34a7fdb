"""Opening a new SQLite file while another process holds its write lock: the switch to WAL
mode waits for the lock (as long as the busy timeout) instead of failing at once with
"database is locked", which SQLite's own busy handler does not cover."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from host.backoffice.database import Database


def _held(path: Path) -> sqlite3.Connection:
    """Another writer in the middle of creating the file's first table (rollback journal)."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE first_writer (x)")
    return other


def test_a_new_file_being_written_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    other = _held(path)
    released = threading.Timer(0.3, other.execute, args=("COMMIT",))
    released.start()
    db = Database(f"sqlite:///{path}", busy_timeout_s=10)
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("SELECT count(*) FROM first_writer")).scalar() == 0
    finally:
        released.join()
        other.close()
        db.dispose()


def test_a_lock_held_past_the_busy_timeout_still_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    other = _held(path)
    db = Database(f"sqlite:///{path}", busy_timeout_s=0.2)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            db.engine.connect().close()
    finally:
        other.close()
        db.dispose()
