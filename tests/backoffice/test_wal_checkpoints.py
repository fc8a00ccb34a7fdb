"""The log's checkpoints moved off the commits: while a BackgroundCheckpoints runs, a
commit never copies the log into the database file (the file stays as it was however much
is committed), its thread does; stopped, it copies what is left and commits checkpoint as
SQLite does by default again."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from host.backoffice.database import Database
from host.backoffice.wal_checkpoints import BackgroundCheckpoints

MB = 1_000_000


def _database(tmp_path: Path) -> tuple[Database, Path]:
    path = tmp_path / "log.sqlite3"
    db = Database(f"sqlite:///{path}", ledger=False)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (b BLOB)")
    return db, path


def _commit(db: Database, megabytes: int) -> None:
    for _ in range(megabytes):
        with db.write() as conn:
            conn.exec_driver_sql("INSERT INTO blobs VALUES (randomblob(1000000))")


def _autocheckpoint(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_by_default_a_commit_copies_the_log_into_the_file(tmp_path: Path) -> None:
    db, path = _database(tmp_path)
    try:
        _commit(db, 8)
        assert path.stat().st_size >= 4 * MB  # past 1,000 pages a commit checkpoints
        assert _autocheckpoint(db) == 1000
    finally:
        db.dispose()


def test_while_checkpointing_in_the_background_no_commit_does(tmp_path: Path) -> None:
    db, path = _database(tmp_path)
    checkpoints = BackgroundCheckpoints(db, every_s=3600)  # a pass only when stopping
    try:
        with checkpoints:
            assert _autocheckpoint(db) == 0
            _commit(db, 8)
            assert path.stat().st_size < MB  # all of it still in the log
        assert checkpoints.passes == 1
        assert path.stat().st_size >= 8 * MB  # the last pass copied it
        assert _autocheckpoint(db) == 1000  # the connections made since checkpoint again
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM blobs").scalar_one() == 8
    finally:
        db.dispose()


def test_the_thread_copies_the_log_as_it_goes(tmp_path: Path) -> None:
    db, path = _database(tmp_path)
    try:
        with BackgroundCheckpoints(db, every_s=0.01) as checkpoints:
            _commit(db, 4)
            deadline = time.monotonic() + 60
            while path.stat().st_size < 4 * MB:
                assert time.monotonic() < deadline, "no checkpoint in a minute"
                time.sleep(0.01)
            assert checkpoints.passes >= 1
    finally:
        db.dispose()


def test_nothing_to_do_for_a_database_without_a_log_file() -> None:
    db = Database("sqlite://", ledger=False)
    try:
        with BackgroundCheckpoints(db) as checkpoints:
            assert _autocheckpoint(db) == 1000
        assert checkpoints.passes == 0
    finally:
        db.dispose()


def _frames_in_log(path: Path) -> int:
    """Pages in the log now (another connection's PASSIVE checkpoint reports them)."""
    other = sqlite3.connect(path)
    try:
        return int(other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        other.close()


def _small_write(db: Database) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("INSERT INTO blobs VALUES (randomblob(100))")


def test_a_log_copied_while_a_write_was_open_starts_again_only_when_asked(
        tmp_path: Path) -> None:
    """A checkpoint that overlaps a write copies the log but cannot let it start again:
    the write commits after it, and every later write appends. Asked, the next write
    copies what is left before it begins and the log starts again from its beginning."""
    for asked in (False, True):
        (tmp_path / str(asked)).mkdir()
        db, path = _database(tmp_path / str(asked))
        db.commits_checkpoint(False)
        try:
            _commit(db, 2)  # ~500 pages in the log
            with db.write() as conn:  # open across the checkpoint
                conn.exec_driver_sql("INSERT INTO blobs VALUES (randomblob(100))")
                before = _frames_in_log(path)  # copies all it can, ~500 pages
            if asked:
                db.restart_log()
            _small_write(db)
            after = _frames_in_log(path)
            if asked:
                assert after < 10  # the small write alone, at the start of the log
            else:
                assert after > before  # still growing
        finally:
            db.dispose()


def test_beside_a_writer_that_never_pauses_the_log_stays_short(tmp_path: Path) -> None:
    """A writer committing back to back: without the writers' help the log would hold
    every page written (the checkpoints always overlap a write); with it, the log file
    stays a fraction of what was written."""
    db, path = _database(tmp_path)
    written = 0
    try:
        with BackgroundCheckpoints(db, every_s=0.02, restart_after=64) as checkpoints:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline or checkpoints.passes < 10:
                with db.write() as conn:
                    conn.exec_driver_sql("INSERT INTO blobs VALUES (randomblob(20000))")
                written += 20_000
            largest = path.with_name(path.name + "-wal").stat().st_size
        assert written > 20 * MB
        assert largest < written / 4
    finally:
        db.dispose()
