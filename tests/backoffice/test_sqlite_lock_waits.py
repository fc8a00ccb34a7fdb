"""Where SQLite answers "database is locked" at once, outside its busy handler, and how the
database waits instead (as long as the busy timeout): a new file's switch to WAL mode
while another process holds its write lock, and a schema change that would read the
catalogue before taking the write lock while another writer commits. And how the threads
of one process take turns to write: on a lock of their own, not in SQLite's busy handler
(which sleeps up to 100 ms between tries)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, event, text
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


def test_a_schema_change_waits_for_a_writer_that_commits_meanwhile(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    writer, creator = Database(url, ledger=False), Database(url, ledger=False)
    with writer.write() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
    tables = MetaData()
    Table("made_meanwhile", tables, Column("n", Integer))
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with creator.schema_change() as conn:
                tables.create_all(conn)
        except BaseException as exc:
            errors.append(exc)

    try:
        with writer.write() as conn:
            conn.exec_driver_sql("INSERT INTO counter VALUES (1)")
            thread = threading.Thread(target=create)
            thread.start()
            thread.join(0.3)  # the schema change waits while this write is open
        thread.join(30)
        assert errors == []
        with creator.read() as conn:
            assert conn.dialect.has_table(conn, "made_meanwhile")
    finally:
        writer.dispose()
        creator.dispose()


def test_a_write_that_cannot_begin_fails_as_a_statement_would(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE runs on the driver; a write lock held past the busy timeout still
    raises SQLAlchemy's OperationalError (what callers catch), not the driver's own."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    db = Database(url, ledger=False, busy_timeout_s=0.2)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
    other = sqlite3.connect(tmp_path / "shared.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"), db.write():
            pass
    finally:
        other.close()
        db.dispose()


def test_threads_of_one_process_take_turns_before_they_touch_the_file(tmp_path: Path) -> None:
    """A second thread's write waits for the first one's commit without a connection of its
    own: it never begins on a locked file (where SQLite's busy handler would make it sleep
    and try again), and it begins once the first commits."""
    db = Database(f"sqlite:///{tmp_path / 'shared.sqlite3'}", ledger=False, busy_timeout_s=30)
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
    checkouts: list[str] = []
    event.listen(db.engine, "checkout",
                 lambda *_: checkouts.append(threading.current_thread().name))
    holding, finish = threading.Event(), threading.Event()

    def first() -> None:
        with db.write() as conn:
            conn.exec_driver_sql("INSERT INTO counter VALUES (1)")
            holding.set()
            assert finish.wait(10)

    def second() -> None:
        with db.write() as conn:
            conn.exec_driver_sql("INSERT INTO counter VALUES (2)")

    threads = [threading.Thread(target=first, name="first"),
               threading.Thread(target=second, name="second")]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    time.sleep(0.3)  # the second has asked to write by now
    try:
        assert checkouts == ["first"]  # the second waits for its turn, not in BEGIN
    finally:
        finish.set()
        for thread in threads:
            thread.join(10)
    assert checkouts == ["first", "second"]
    with db.read() as conn:
        assert [n for (n,) in conn.exec_driver_sql("SELECT n FROM counter ORDER BY n")] == [1, 2]
    db.dispose()


def test_a_turn_not_given_within_the_busy_timeout_fails_as_sqlite_would(
        tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'shared.sqlite3'}", ledger=False,
                  busy_timeout_s=0.2)
    holding, finish = threading.Event(), threading.Event()

    def holder() -> None:
        with db.write():
            holding.set()
            assert finish.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(OperationalError, match="database is locked"), db.write():
            pass
    finally:
        finish.set()
        thread.join(10)
        db.dispose()
