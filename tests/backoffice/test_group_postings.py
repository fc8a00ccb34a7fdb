"""A group transaction's postings (:class:`GroupPostings`): the moves of accounts without
bounds written once at the commit, the due holds looked up once. The rows a group leaves
are the rows the same requests leave when each move is written at once and every apply
looks up the due holds (hypothesis, on SQLite, whose writers are serial, so both must be
equal row for row); what a rolled-back savepoint kept is forgotten; an account that gains
a bound before the commit is not moved and nothing of the group is kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from host.backoffice import Asset, Database, Ledger, Source, SourceKind, Transfer
from host.backoffice.errors import BoundsViolationError, ConfigurationError
from host.backoffice.group_postings import GroupPostings
from host.backoffice.schema import ledger_accounts, ledger_open_holds, ledger_transfers
from tests.backoffice.backoffice_helpers import check_invariants
from tests.backoffice.test_ledger_free_accounts import T0
from tests.backoffice.test_ledger_free_accounts import bank_shop_holder as _ledger

CNY = Asset.CNY
OP = Source(SourceKind.OPERATOR, "tests")


class _Undone(Exception):
    """A request that fails after posting: its savepoint is rolled back."""


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    book = _ledger(db_url)
    yield book
    check_invariants(book.db)
    book.db.dispose()


#: one request: who pays, how much, its hold's life (s), seconds after the previous
#: request, and whether it fails after posting
_REQUEST = st.tuples(st.sampled_from(["bank", "holder"]), st.integers(1, 400),
                     st.sampled_from([1, 2, 3_600]), st.integers(0, 2), st.booleans())


def _run(book: Ledger, requests: list[tuple[str, int, int, int, bool]], *,
         group: bool) -> None:
    """The requests in one write transaction, each in a savepoint of it (a group
    transaction's :class:`GroupPostings` with ``group``)."""
    at = T0
    with book.db.write(deferred=GroupPostings() if group else None) as conn:
        for n, (debit, amount, life, gap, fails) in enumerate(requests):
            at += timedelta(seconds=gap)
            try:
                with book.db.write():
                    book.apply(conn, [Transfer.hold(f"h{n}", debit, "shop", amount, CNY, OP,
                                                    expires_at=at + timedelta(seconds=life))],
                               at=at)
                    if fails:
                        raise _Undone
            except _Undone:
                pass


def _rows(db: Database) -> list[Any]:
    with db.read() as conn:
        return [list(conn.execute(select(table).order_by(*table.primary_key.columns)))
                for table in (ledger_accounts, ledger_transfers, ledger_open_holds)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_REQUEST, max_size=12))
def test_a_group_leaves_the_rows_each_posting_alone_leaves(
        requests: list[tuple[str, int, int, int, bool]]) -> None:
    grouped, alone = _ledger("sqlite://"), _ledger("sqlite://")
    try:
        _run(grouped, requests, group=True)
        _run(alone, requests, group=False)
        assert _rows(grouped.db) == _rows(alone.db)
        check_invariants(grouped.db)
    finally:
        grouped.db.dispose()
        alone.db.dispose()


def test_a_group_writes_each_free_account_once(ledger: Ledger) -> None:
    updates: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(f"UPDATE {ledger_accounts.name}"):
            updates.append(statement)

    event.listen(ledger.db.engine, "before_cursor_execute", count)
    try:
        with ledger.db.write(deferred=GroupPostings()) as conn:
            for n in range(5):
                with ledger.db.write():
                    ledger.apply(conn, [Transfer.hold(f"h{n}", "bank", "shop", 10, CNY, OP,
                                                      expires_at=T0 + timedelta(days=7))],
                                 at=T0)
            assert updates == []  # kept for the commit
    finally:
        event.remove(ledger.db.engine, "before_cursor_execute", count)
    assert len(updates) <= 1  # one statement for both accounts (executemany)
    bank, shop = ledger.accounts(["bank", "shop"])
    assert (bank.balance.debits_pending, shop.balance.credits_pending) == (50, 50)


def test_a_group_on_sqlite_reads_each_free_account_once(ledger: Ledger) -> None:
    """On SQLite nothing else writes the accounts without bounds before the group's commit,
    so after its first apply the group reads them no more (its statements traced on the
    driver); on PostgreSQL each apply reads them, as other processes commit meanwhile. The
    rows left are the same either way (the hypothesis test above)."""
    statements: list[str] = []

    def one(conn: Any, n: int) -> None:
        ledger.apply(conn, [Transfer.hold(f"h{n}", "bank", "shop", 10, CNY, OP,
                                          expires_at=T0 + timedelta(days=7))], at=T0)

    with ledger.db.write(deferred=GroupPostings()) as conn:
        one(conn, 0)
        driver = conn.connection.dbapi_connection
        if ledger.db.is_sqlite:
            driver.set_trace_callback(statements.append)  # type: ignore[union-attr]
        for n in range(1, 5):
            with ledger.db.write():
                one(conn, n)
        if ledger.db.is_sqlite:
            driver.set_trace_callback(None)  # type: ignore[union-attr]
            assert [s for s in statements if s.startswith("SELECT") and
                    f"FROM {ledger_accounts.name}" in s] == []
            assert len([s for s in statements
                        if s.startswith(f"INSERT INTO {ledger_transfers.name}")]) == 4
    bank, shop = ledger.accounts(["bank", "shop"])
    assert (bank.balance.debits_pending, shop.balance.credits_pending) == (50, 50)


def test_a_bound_set_before_the_commit_keeps_nothing_of_the_group(ledger: Ledger) -> None:
    with (pytest.raises(BoundsViolationError, match="gained a bound"),
          ledger.db.write(deferred=GroupPostings()) as conn):
        ledger.apply(conn, [Transfer.hold("h1", "bank", "shop", 10, CNY, OP,
                                          expires_at=T0 + timedelta(days=7))], at=T0)
        conn.execute(text(f"UPDATE {ledger_accounts.name} SET lower_bound = 0 "
                          "WHERE id = 'bank'"))
    bank, shop = ledger.accounts(["bank", "shop"])
    assert (bank.balance.debits_pending, shop.balance.credits_pending) == (0, 0)
    with ledger.db.read() as conn:
        assert conn.execute(select(ledger_transfers.c.id)).all() == []


def test_only_an_outermost_write_keeps_writes_for_its_commit(ledger: Ledger) -> None:
    with (ledger.db.write(), pytest.raises(ConfigurationError, match="outermost"),
          ledger.db.write(deferred=GroupPostings())):
        pass
