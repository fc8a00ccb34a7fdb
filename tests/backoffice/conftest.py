"""Fixtures of the back-office suite: a database URL per test (SQLite file, and PostgreSQL
for tests marked ``postgres``), a fresh back office with the standard sample alliance."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from host.testing.postgres import PostgresUnavailable, postgres_url
from tests.backoffice.backoffice_helpers import SampleAlliance


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server for the session: DUALCARD_TEST_PG_URL or a throwaway cluster.
    Missing PostgreSQL fails under CI=true and skips (with the reason) elsewhere."""
    try:
        url, cluster = postgres_url()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield url
    if cluster is not None:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    engine = create_engine(pg_server_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return pg_server_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Each test that takes this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture
def alliance(db_url: str) -> Iterator[SampleAlliance]:
    """The sample alliance on a fresh database (both back ends)."""
    sample = SampleAlliance.create(db_url)
    yield sample
    sample.office.close()
