"""Processes starting together on an empty PostgreSQL database each create the tables they
need: they take turns (one advisory lock), where a bare ``CREATE TABLE`` that checks first
raced in the catalogue (a duplicate ``pg_type`` row) and one of them failed."""

from __future__ import annotations

import threading

import pytest

from host.backoffice.database import Database
from host.service.notices import create_notices_schema
from host.service.schema import create_service_schema
from tests.backoffice.conftest import pg_server_url, pg_url  # noqa: F401

pytestmark = pytest.mark.postgres


def test_schema_creation_racing_on_an_empty_database_never_fails(pg_url: str) -> None:  # noqa: F811
    errors: list[BaseException] = []
    for _ in range(3):  # a fresh start each round: drop what the last one made
        databases = [Database(pg_url) for _ in range(6)]
        with databases[0].engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        start = threading.Barrier(len(databases))

        def create(db: Database, start: threading.Barrier = start) -> None:
            try:
                start.wait()
                db.create_schema()
                create_service_schema(db)
                create_notices_schema(db)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(db,)) for db in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        for db in databases:
            db.dispose()
    assert errors == []
