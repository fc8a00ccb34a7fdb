"""The replay guard on its own: a STAN is taken once per terminal while its request's DE 7
is in the window, then free again; two guards over one database (two service processes)
share what they have seen."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from host.backoffice.database import Database
from host.service.replay import ReplayGuard
from host.service.schema import create_service_schema

NOW = dt.datetime(2025, 6, 18, 1, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(minutes=5)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    create_service_schema(database)
    yield database
    database.dispose()


def test_a_stan_is_taken_once_per_terminal_while_in_the_window(db: Database) -> None:
    guard = ReplayGuard(db, window=WINDOW)
    assert guard.reserve("0000000A0001", 7, NOW, b"a" * 32, now=NOW) is None
    assert guard.reserve("0000000A0001", 7, NOW, b"b" * 32, now=NOW) == b"a" * 32
    assert guard.reserve("0000000A0002", 7, NOW, b"c" * 32, now=NOW) is None  # other terminal
    other_process = ReplayGuard(db, window=WINDOW)
    later = NOW + WINDOW
    assert other_process.reserve("0000000A0001", 7, NOW, b"d" * 32, now=later) == b"a" * 32


def test_a_stan_is_free_again_once_its_request_left_the_window(db: Database) -> None:
    guard = ReplayGuard(db, window=WINDOW)
    guard.reserve("0000000A0001", 7, NOW, b"a" * 32, now=NOW)
    much_later = NOW + WINDOW + dt.timedelta(seconds=1)
    assert guard.reserve("0000000A0001", 7, much_later, b"e" * 32, now=much_later) is None
    assert guard.reserve("0000000A0001", 7, much_later, b"f" * 32, now=much_later) == b"e" * 32


def test_purge_forgets_what_left_the_window(db: Database) -> None:
    guard = ReplayGuard(db, window=WINDOW)
    for stan in (1, 2, 3):
        guard.reserve("0000000A0001", stan, NOW, bytes(32), now=NOW)
    guard.reserve("0000000A0001", 4, NOW + WINDOW, bytes(32), now=NOW + WINDOW)
    assert guard.purge(NOW + WINDOW + dt.timedelta(seconds=1)) == 3
    assert guard.reserve("0000000A0001", 4, NOW, b"x" * 32, now=NOW + WINDOW) == bytes(32)


def test_the_window_is_both_ways_around_the_services_clock(db: Database) -> None:
    guard = ReplayGuard(db, window=WINDOW)
    assert guard.in_window(NOW - WINDOW, NOW) and guard.in_window(NOW + WINDOW, NOW)
    assert not guard.in_window(NOW + WINDOW + dt.timedelta(seconds=1), NOW)
