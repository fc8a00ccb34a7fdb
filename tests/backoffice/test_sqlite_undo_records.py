"""A savepoint's undo records stay in memory on SQLite: by default SQLite moves them to a
temporary file it creates once they pass 64 KiB, which one authorisation's savepoints
reach (every page it changes is copied), and creating that file cost the statement that
crossed the line 60-100 us (docs/decisions.md, D60)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Column, LargeBinary, MetaData, String, Table

from host.backoffice.database import Database, on_driver

_SCRATCH = Table("undo_scratch", MetaData(), Column("k", String(32), primary_key=True),
                 Column("v", LargeBinary, nullable=False))


def _deleted_files_open() -> list[str]:
    """Files this process holds open that are already unlinked (SQLite's temporary files
    are unlinked as soon as they are made), read from /proc: on a system without it the
    test fails rather than passes unseen."""
    names = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.endswith("(deleted)"):
            names.append(target)
    return names


def test_a_savepoint_changing_many_pages_makes_no_temporary_file(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    try:
        with db.schema_change() as conn:
            _SCRATCH.create(conn)
        with db.write() as conn:
            for n in range(100):
                on_driver(conn, "INSERT INTO undo_scratch (k, v) VALUES (?, ?)",
                          (f"{n:04d}", bytes(3000)))
        before = _deleted_files_open()
        with db.write() as outer, db.write() as inner:  # the inner one is a savepoint
            assert inner is outer
            # pages that were in the file when the savepoint opened are copied before
            # their first change: ~300 KiB of them
            on_driver(inner, "UPDATE undo_scratch SET v = ?", (os.urandom(3000),))
            during = _deleted_files_open()
        assert during == before
        with db.read() as conn:
            assert on_driver(conn, "SELECT count(DISTINCT v) FROM undo_scratch").one()[0] == 1
    finally:
        db.dispose()
