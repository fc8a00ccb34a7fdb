"""Accounts without bounds are moved without their row lock (the issuing bank's account that
every authorisation's hold moves): concurrent writers still lose no update, a bounded
account is still checked under its lock, and an account that gains a bound while a
transfer on it is being planned is never moved past it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from host.backoffice import (
    AccountSpec,
    Asset,
    Database,
    Ledger,
    Source,
    SourceKind,
    Transfer,
)
from host.backoffice.errors import BoundsViolationError
from tests.backoffice.backoffice_helpers import check_invariants

CNY = Asset.CNY
T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
OP = Source(SourceKind.OPERATOR, "tests")
WRITERS, EACH = 4, 25


def bank_shop_holder(url: str) -> Ledger:
    """A ledger on ``url`` with two accounts without bounds (the bank's, the shop's) and a
    holder's with a credit line of 1,000."""
    db = Database(url)
    db.create_schema()
    book = Ledger(db)
    book.create_accounts([
        AccountSpec("bank", CNY, "issuer", lower_bound=None),
        AccountSpec("shop", CNY, "merchant", lower_bound=None),
        AccountSpec("holder", CNY, "holder", lower_bound=-1_000),
    ], at=T0)
    return book


@pytest.fixture
def ledger(db_url: str):
    book = bank_shop_holder(db_url)
    yield book
    check_invariants(book.db)
    book.db.dispose()


def hold(tid: str, debit: str, amount: int) -> Transfer:
    return Transfer.hold(tid, debit, "shop", amount, CNY, OP,
                         expires_at=T0 + timedelta(days=7))


def _concurrently(ledger: Ledger, debit: str, amount: int, *, same_ids: bool = False
                  ) -> list[str]:
    """WRITERS threads, each submitting EACH holds of ``amount`` from ``debit`` (the same
    ids in every thread with ``same_ids``); the codes."""
    codes: list[str] = []
    lock = threading.Lock()

    def writer(number: int) -> None:
        for index in range(EACH):
            tid = f"h{index}" if same_ids else f"h{number}-{index}"
            results = ledger.create_transfers([hold(tid, debit, amount)], at=T0)
            with lock:
                codes.extend(r.code.value for r in results)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def test_concurrent_holds_on_free_accounts_lose_no_update(ledger: Ledger) -> None:
    codes = _concurrently(ledger, "bank", 7)
    assert codes == ["created"] * (WRITERS * EACH)
    bank, shop = ledger.accounts(["bank", "shop"])
    assert bank.balance.debits_pending == shop.balance.credits_pending == 7 * WRITERS * EACH


def test_the_same_transfer_from_several_writers_is_posted_once(ledger: Ledger) -> None:
    codes = _concurrently(ledger, "bank", 7, same_ids=True)
    assert sorted(set(codes)) == ["created", "exists"] and codes.count("created") == EACH
    assert ledger.account("bank").balance.debits_pending == 7 * EACH


def test_a_bounded_account_is_still_checked_under_its_lock(ledger: Ledger) -> None:
    codes = _concurrently(ledger, "holder", 30)  # 100 tries of 30 against a line of 1,000
    assert codes.count("created") == 33
    assert ledger.account("holder").balance.debits_pending == 990


@pytest.mark.postgres
def test_an_account_bounded_while_a_transfer_is_planned_is_not_moved_past_it(
    pg_url: str,
) -> None:
    db = Database(pg_url)
    db.create_schema()
    book = Ledger(db)
    book.create_accounts([AccountSpec("bank", CNY, "issuer", lower_bound=None),
                          AccountSpec("shop", CNY, "merchant", lower_bound=None)], at=T0)
    outcome: list[object] = []

    def transfer() -> None:
        try:
            outcome.append(book.create_transfers([hold("late", "bank", 50)], at=T0)[0].code)
        except BoundsViolationError as exc:
            outcome.append(exc)

    with db.write() as conn:  # the bound is set, its transaction still open
        book.set_bounds(conn, "bank", lower_bound=0, upper_bound=None, reason="test", at=T0)
        writer = threading.Thread(target=transfer)
        writer.start()
        _wait_until_blocked(conn)
    writer.join()
    assert isinstance(outcome[0], BoundsViolationError) or outcome[0].value == (
        "exceeds_lower_bound"
    )
    assert book.account("bank").balance.debits_pending == 0
    check_invariants(db)
    db.dispose()


def _wait_until_blocked(conn) -> None:
    """Until another session waits for a lock this one holds (the transfer's update)."""
    for _ in range(2_000):
        waiting = conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one()
        if waiting:
            return
        threading.Event().wait(0.005)
    raise AssertionError("the transfer never waited for the bank's row")
