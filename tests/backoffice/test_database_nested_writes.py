"""A write opened inside another on the same thread joins it: one transaction, each inner
write a savepoint undone alone on error; reads inside see the write's own changes; a
write's durability is its outermost one's. On both databases."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table
from sqlalchemy.exc import IntegrityError

from host.backoffice.database import Database, insert_rows, on_driver
from host.backoffice.errors import ConfigurationError


@pytest.fixture
def db(db_url: str) -> Database:
    database = Database(db_url, ledger=False)
    with database.write() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    yield database
    database.dispose()


def _xs(conn: Connection) -> list[int]:
    return [row[0] for row in on_driver(conn, "SELECT x FROM t ORDER BY x")]


def _committed(db: Database) -> list[int]:
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.extend(_read(db)))  # another connection
    thread.start()
    thread.join()
    return result


def _read(db: Database) -> list[int]:
    with db.read() as conn:
        return _xs(conn)


def test_an_inner_write_that_fails_is_undone_alone_and_the_outer_commits(db: Database) -> None:
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with pytest.raises(ZeroDivisionError), db.write() as inner:
            assert inner is outer
            on_driver(inner, "INSERT INTO t VALUES (?)", (2,))
            raise ZeroDivisionError
        with db.write() as inner:
            on_driver(inner, "INSERT INTO t VALUES (?)", (3,))
        with db.read() as seen:  # the transaction's own changes
            assert _xs(seen) == [1, 3]
        assert _committed(db) == []  # nothing seen outside before the commit
    assert _committed(db) == [1, 3]


def test_an_inner_write_without_its_own_savepoint_is_undone_with_the_enclosing_one(
    db: Database,
) -> None:
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with pytest.raises(ZeroDivisionError), db.write():  # a savepoint
            with db.write(alone=False) as inner:
                assert inner is outer
                on_driver(inner, "INSERT INTO t VALUES (?)", (2,))
            with db.write(alone=False) as inner:
                on_driver(inner, "INSERT INTO t VALUES (?)", (3,))
                raise ZeroDivisionError  # its error ends the enclosing savepoint
        with db.write(), db.write(alone=False) as inner:
            on_driver(inner, "INSERT INTO t VALUES (?)", (4,))
        with db.read() as seen:
            assert _xs(seen) == [1, 4]
    assert _committed(db) == [1, 4]


def test_a_failed_statement_inside_an_inner_write_leaves_the_outer_usable(db: Database) -> None:
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with pytest.raises(IntegrityError), db.write() as inner:
            on_driver(inner, "INSERT INTO t VALUES (?)", (1,))  # PostgreSQL: aborts it
        on_driver(outer, "INSERT INTO t VALUES (?)", (2,))
    assert _committed(db) == [1, 2]


def test_an_outer_write_that_fails_undoes_its_inner_ones(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.write() as outer:
        with db.write() as inner:
            on_driver(inner, "INSERT INTO t VALUES (?)", (1,))
        on_driver(outer, "INSERT INTO t VALUES (?)", (2,))
        raise ZeroDivisionError
    assert _committed(db) == []
    with db.write() as conn:  # the thread has no transaction left open
        on_driver(conn, "INSERT INTO t VALUES (?)", (3,))
    assert _committed(db) == [3]


def test_a_write_waiting_for_the_disk_joins_one_that_does_not_only_where_it_can(
        db: Database) -> None:
    with db.write(flush=False) as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        if db.is_sqlite:
            with pytest.raises(ConfigurationError, match="disk"), db.write():
                pass
        else:  # PostgreSQL raises the outer's durability
            with db.write() as inner:
                on_driver(inner, "INSERT INTO t VALUES (?)", (2,))
    assert _committed(db) == ([1] if db.is_sqlite else [1, 2])


# On PostgreSQL a savepoint is sent with the first statement run in it, in one round trip
# (by whichever path that statement takes); one in which nothing ran is never sent.


def test_savepoints_in_which_nothing_ran_are_undone_without_a_trace(db: Database) -> None:
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with pytest.raises(ZeroDivisionError), db.write(), db.write():
            raise ZeroDivisionError  # nothing ran in either before the error
        with db.write():  # nothing ran in it: it ends without a statement
            pass
        with db.write(), db.write() as inner:  # both go with the first statement
            on_driver(inner, "INSERT INTO t VALUES (?)", (2,))
        with pytest.raises(ZeroDivisionError), db.write() as middle:
            with pytest.raises(ZeroDivisionError), db.write() as inner:
                on_driver(inner, "INSERT INTO t VALUES (?)", (3,))  # sends both
                raise ZeroDivisionError  # undoes the inner one only
            on_driver(middle, "INSERT INTO t VALUES (?)", (4,))
            assert _xs(middle) == [1, 2, 4]
            raise ZeroDivisionError
        assert _xs(outer) == [1, 2]
    assert _committed(db) == [1, 2]
    assert "dualcard_queued_savepoints" not in _pooled_info(db)  # nothing left for later


def test_a_savepoint_whose_first_statement_is_sqlalchemys_is_sent_before_it(
        db: Database) -> None:
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with pytest.raises(ZeroDivisionError), db.write() as inner:
            inner.exec_driver_sql("INSERT INTO t VALUES (2)")
            raise ZeroDivisionError
        with pytest.raises(IntegrityError), db.write() as inner:
            inner.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert _committed(db) == [1]


def test_a_savepoint_whose_first_statement_is_a_copy_is_sent_before_it(db: Database) -> None:
    rows = [(x,) for x in range(10, 40)]  # enough for a COPY on PostgreSQL
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with pytest.raises(ZeroDivisionError), db.write() as inner:
            insert_rows(inner, Table("t", MetaData(), Column("x", Integer)), ("x",), rows)
            raise ZeroDivisionError
        with pytest.raises(IntegrityError), db.write() as inner:
            insert_rows(inner, Table("t", MetaData(), Column("x", Integer)), ("x",),
                        [*rows, (1,)])
    assert _committed(db) == [1]


def _pooled_info(db: Database) -> dict[str, object]:
    with db.engine.connect() as conn:
        return dict(conn.info)


def test_statements_sent_after_another_are_kept_or_undone_with_it(db: Database) -> None:
    with db.write() as outer:
        on_driver(outer, "INSERT INTO t VALUES (?)", (1,))
        with db.write() as inner:  # on PostgreSQL: savepoint, insert, insert in one trip
            assert on_driver(inner, "INSERT INTO t VALUES (?)", (2,),
                             after=[("INSERT INTO t VALUES (?)", (3,))]).rowcount == 1
        with pytest.raises(IntegrityError), db.write() as inner:  # the later one fails
            on_driver(inner, "INSERT INTO t VALUES (?)", (4,),
                      after=[("INSERT INTO t VALUES (?)", (5,)),
                             ("INSERT INTO t VALUES (?)", (1,))])
        assert _xs(outer) == [1, 2, 3]
    assert _committed(db) == [1, 2, 3]
