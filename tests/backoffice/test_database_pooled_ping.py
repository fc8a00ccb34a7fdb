"""A pooled PostgreSQL connection is pinged before use only when it rested in the pool:
one that died while it rested is replaced before any request meets it; one handed on at
once (a busy service's) is used without the round trip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from host.backoffice import database
from host.backoffice.database import Database

pytestmark = pytest.mark.postgres


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    opened = Database(pg_url, ledger=False)
    yield opened
    opened.dispose()


def _backend(db: Database) -> int:
    """The server process of the connection a read is served on."""
    with db.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(url: str, pid: int) -> None:
    """End that server process (as a restart would), waiting until it is gone."""
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"),
                            {"pid": pid}).scalar_one()
    engine.dispose()


def test_a_rested_connection_that_died_is_replaced_before_use(
        db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE", 0.0)
    first = _backend(db)
    _terminate(pg_url, first)
    assert _backend(db) != first  # served, on a new connection


def test_a_connection_handed_on_at_once_is_not_pinged(
        db: Database, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database, "PING_AFTER_IDLE", 3600.0)
    first = _backend(db)
    _terminate(pg_url, first)
    with pytest.raises(DBAPIError):  # no ping: the read meets the dead connection
        _backend(db)
    assert _backend(db) != first  # which the pool then replaced
