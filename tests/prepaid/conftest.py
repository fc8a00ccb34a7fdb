"""Fixtures of the prepaid suite: the back-office suite's database per test (SQLite, and
PostgreSQL for tests marked ``postgres``) with a small alliance and two programs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backoffice.conftest import db_url, pg_server_url, pg_url, sqlite_url
from tests.prepaid.prepaid_helpers import Sample

__all__ = ["db_url", "pg_server_url", "pg_url", "sample", "sqlite_url"]


@pytest.fixture
def sample(db_url: str) -> Iterator[Sample]:
    made = Sample.create(db_url)
    yield made
    made.office.close()
