"""The ledger core on both databases: double entry, idempotent ids, linked chains, two-phase
holds, balance bounds, balances as of a time. Semantics follow TigerBeetle's transfers
(ecosystem §5.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from host.backoffice import (
    AccountSpec,
    Asset,
    Database,
    IdReusedError,
    Ledger,
    Reason,
    Source,
    SourceKind,
    Transfer,
    TransferCode,
    TransferRejectedError,
)
from host.backoffice.errors import InvalidAmountError, ValidationError
from host.backoffice.statements import balance_as_of, statement
from tests.backoffice.backoffice_helpers import check_invariants

P = Asset.CONSUMPTION_POINTS
T0 = datetime(2025, 1, 6, 9, tzinfo=UTC)
OP = Source(SourceKind.OPERATOR, "tests")


@pytest.fixture
def ledger(db_url: str):
    db = Database(db_url)
    db.create_schema()
    book = Ledger(db)
    book.create_accounts([
        AccountSpec("issuer", P, "issuer", lower_bound=None),
        AccountSpec("alice", P, "holder"),  # no overdraft
        AccountSpec("bob", P, "holder", upper_bound=1_000),  # capped
        AccountSpec("carol", P, "holder", lower_bound=-500),  # credit line 500
        AccountSpec("cash", Asset.CNY, "money", lower_bound=None),
    ], at=T0)
    yield book
    check_invariants(db)
    db.dispose()


def earn(tid: str, account: str, amount: int, **kw) -> Transfer:
    return Transfer.single(tid, "issuer", account, amount, P, Reason.EARN, OP, **kw)


def move(tid: str, debit: str, credit: str, amount: int, **kw) -> Transfer:
    return Transfer.single(tid, debit, credit, amount, P, Reason.REDEEM, OP, **kw)


def codes(results) -> list[str]:
    return [r.code.value for r in results]


def test_a_transfer_moves_both_sides_and_reports_the_balances(ledger: Ledger) -> None:
    [result] = ledger.create_transfers([earn("t1", "alice", 250)], at=T0)
    assert result.code is TransferCode.CREATED
    assert result.credit_balance.posted == 250
    assert result.debit_balance.posted == -250
    assert ledger.account("alice").balance.posted == 250


def test_resubmitting_answers_exists_with_the_original_balances(ledger: Ledger) -> None:
    [first] = ledger.create_transfers([earn("t1", "alice", 250)], at=T0)
    ledger.create_transfers([earn("t2", "alice", 50)], at=T0)
    [again] = ledger.create_transfers([earn("t1", "alice", 250)], at=T0 + timedelta(hours=1))
    assert again.code is TransferCode.EXISTS
    assert again.credit_balance == first.credit_balance  # the balances t1 produced
    assert ledger.account("alice").balance.posted == 300  # posted once


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"amount": 251}, "amount"),
        ({"account": "bob"}, "credit_account"),
        ({"details": {"why": "x"}}, "details"),
        ({"correlation_id": "other"}, "correlation_id"),
    ],
)
def test_same_id_different_content_is_refused_loudly(ledger: Ledger, changed, field) -> None:
    ledger.create_transfers([earn("t1", "alice", 250)], at=T0)
    amount = changed.get("amount", 250)
    account = changed.get("account", "alice")
    extra = {k: v for k, v in changed.items() if k in ("details", "correlation_id")}
    with pytest.raises(IdReusedError) as info:
        ledger.create_transfers([earn("t2", "alice", 1), earn("t1", account, amount, **extra)],
                                at=T0)
    assert info.value.code == f"exists_with_different_{field}"
    assert ledger.account("alice").balance.posted == 250  # nothing of that request posted


def test_the_same_id_twice_in_one_request(ledger: Ledger) -> None:
    results = ledger.create_transfers([earn("t1", "alice", 5), earn("t1", "alice", 5)], at=T0)
    assert codes(results) == ["created", "exists"]
    with pytest.raises(IdReusedError):
        ledger.create_transfers([earn("t9", "alice", 5), earn("t9", "alice", 6)], at=T0)


def test_no_overdraft_without_a_credit_line(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t1", "alice", 100)], at=T0)
    results = ledger.create_transfers([move("t2", "alice", "bob", 101)], at=T0)
    assert codes(results) == ["exceeds_lower_bound"]
    assert ledger.account("alice").balance.posted == 100


def test_a_credit_line_allows_going_below_zero_up_to_it(ledger: Ledger) -> None:
    results = ledger.create_transfers(
        [move("t1", "carol", "alice", 500), move("t2", "carol", "alice", 1)], at=T0
    )
    assert codes(results) == ["created", "exceeds_lower_bound"]
    assert ledger.account("carol").balance.posted == -500


def test_an_upper_cap_counts_pending_credits(ledger: Ledger) -> None:
    results = ledger.create_transfers([
        Transfer.hold("h1", "issuer", "bob", 800, P, OP),
        earn("t1", "bob", 201),
        earn("t2", "bob", 200),
    ], at=T0)
    assert codes(results) == ["created", "exceeds_upper_bound", "created"]


def test_holds_count_against_the_lower_bound(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t1", "alice", 100)], at=T0)
    results = ledger.create_transfers([
        Transfer.hold("h1", "alice", "bob", 70, P, OP),
        move("t2", "alice", "bob", 31),
        move("t3", "alice", "bob", 30),
    ], at=T0)
    assert codes(results) == ["created", "exceeds_lower_bound", "created"]
    balance = ledger.account("alice").balance
    assert (balance.posted, balance.debits_pending, balance.available) == (70, 70, 0)


def test_linked_chain_is_all_or_nothing(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t0", "alice", 100)], at=T0)
    results = ledger.create_transfers([
        move("a", "alice", "bob", 60, linked=True),
        Transfer.hold("b", "alice", "bob", 30, P, OP, linked=True),
        move("c", "alice", "bob", 20),  # 60 + 30 + 20 > 100
        earn("d", "bob", 1),  # independent: still posted
    ], at=T0)
    assert codes(results) == [
        "linked_event_failed", "linked_event_failed", "exceeds_lower_bound", "created"
    ]
    assert ledger.account("alice").balance.posted == 100
    assert ledger.account("alice").balance.debits_pending == 0
    [retry] = ledger.create_transfers([Transfer.post("p", "b", OP)], at=T0)
    assert retry.code is TransferCode.PENDING_TRANSFER_NOT_FOUND  # the failed hold left nothing


def test_a_request_may_not_end_inside_a_chain(ledger: Ledger) -> None:
    results = ledger.create_transfers(
        [earn("a", "alice", 1, linked=True), earn("b", "alice", 1, linked=True)], at=T0
    )
    assert codes(results) == ["linked_event_failed", "linked_event_chain_open"]


def test_a_retried_chain_answers_exists_for_every_member(ledger: Ledger) -> None:
    chain = [earn("a", "alice", 1, linked=True), earn("b", "alice", 2)]
    ledger.create_transfers(chain, at=T0)
    assert codes(ledger.create_transfers(chain, at=T0)) == ["exists", "exists"]
    mixed = ledger.create_transfers([earn("a", "alice", 1, linked=True), earn("z", "alice", 2)],
                                    at=T0)
    assert codes(mixed) == ["exists", "linked_chain_partly_exists"]


def test_post_in_full_in_part_and_void(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t0", "alice", 100)], at=T0)
    ledger.create_transfers([
        Transfer.hold("h1", "alice", "bob", 40, P, OP),
        Transfer.hold("h2", "alice", "bob", 30, P, OP),
        Transfer.hold("h3", "alice", "bob", 20, P, OP),
    ], at=T0)
    results = ledger.create_transfers([
        Transfer.post("p1", "h1", OP),
        Transfer.post("p2", "h2", OP, amount=10),
        Transfer.void("v3", "h3", OP),
    ], at=T0)
    assert codes(results) == ["created", "created", "created"]
    alice = ledger.account("alice").balance
    assert (alice.posted, alice.debits_pending) == (50, 0)  # 100 - 40 - 10
    again = ledger.create_transfers([
        Transfer.post("p1b", "h1", OP), Transfer.void("v2", "h2", OP),
        Transfer.post("p3", "h3", OP), Transfer.post("p4", "t0", OP),
    ], at=T0)
    assert codes(again) == [
        "pending_transfer_already_posted", "pending_transfer_already_posted",
        "pending_transfer_already_voided", "pending_transfer_not_pending",
    ]


def test_resolution_must_match_the_hold(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t0", "alice", 100),
                             Transfer.hold("h1", "alice", "bob", 40, P, OP)], at=T0)
    results = ledger.create_transfers([
        Transfer.post("p1", "h1", OP, amount=41),
        Transfer(id="p2", kind=Transfer.post("x", "h1", OP).kind, source=OP, pending_id="h1",
                 credit_account="carol"),
        Transfer.void("v1", "h1", OP, reason=Reason.EARN),
    ], at=T0)
    assert codes(results) == [
        "exceeds_pending_transfer_amount",
        "pending_transfer_has_different_credit_account",
        "pending_transfer_has_different_reason",
    ]


def test_holds_expire_at_their_time_and_cannot_be_posted_after(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t0", "alice", 100)], at=T0)
    expires = T0 + timedelta(minutes=30)
    ledger.create_transfers(
        [Transfer.hold("h1", "alice", "bob", 60, P, OP, expires_at=expires)], at=T0
    )
    assert ledger.account("alice").balance.available == 40
    later = T0 + timedelta(hours=1)
    [result] = ledger.create_transfers([Transfer.post("p1", "h1", OP)], at=later)
    assert result.code is TransferCode.PENDING_TRANSFER_EXPIRED
    assert ledger.account("alice").balance.available == 100
    db = ledger.db
    with db.read() as conn:
        held = balance_as_of(conn, "alice", expires - timedelta(seconds=1))
        released = balance_as_of(conn, "alice", expires)
    assert (held.debits_pending, released.debits_pending) == (60, 0)


def test_expiry_happens_even_without_a_request_naming_the_hold(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t0", "alice", 100)], at=T0)
    ledger.create_transfers([Transfer.hold("h1", "alice", "bob", 60, P, OP,
                                           expires_at=T0 + timedelta(seconds=5))], at=T0)
    assert ledger.expire_due(at=T0 + timedelta(seconds=4)) == 0
    assert ledger.expire_due(at=T0 + timedelta(seconds=5)) == 1
    assert ledger.account("alice").balance.debits_pending == 0


def test_an_expiry_in_the_past_is_refused(ledger: Ledger) -> None:
    [result] = ledger.create_transfers(
        [Transfer.hold("h1", "issuer", "alice", 1, P, OP, expires_at=T0)], at=T0
    )
    assert result.code is TransferCode.EXPIRES_AT_NOT_IN_FUTURE


def test_accounts_and_assets_must_fit(ledger: Ledger) -> None:
    results = ledger.create_transfers([
        earn("a", "nobody", 1),
        move("b", "nobody", "alice", 1),
        move("c", "alice", "alice", 1),
        Transfer.single("d", "issuer", "cash", 1, P, Reason.EARN, OP),
    ], at=T0)
    assert codes(results) == [
        "credit_account_not_found", "debit_account_not_found", "accounts_must_be_different",
        "asset_mismatch",
    ]


def test_post_all_writes_nothing_when_one_fails(ledger: Ledger) -> None:
    with pytest.raises(TransferRejectedError) as info:
        ledger.post_all([earn("a", "alice", 5), move("b", "alice", "bob", 6)], at=T0)
    assert info.value.codes == {"b": "exceeds_lower_bound"}
    assert ledger.account("alice").balance.posted == 0


def test_statement_tells_why_and_balances_as_of_a_time(ledger: Ledger) -> None:
    ledger.create_transfers([earn("t1", "alice", 100, correlation_id="batch-1",
                                  details={"terminal": "0000000000A1"})], at=T0)
    ledger.create_transfers([move("t2", "alice", "bob", 30)], at=T0 + timedelta(days=1))
    st = statement(ledger.db, "alice", start=T0 + timedelta(hours=1), end=T0 + timedelta(days=2))
    assert st.opening.posted == 100
    assert [(e.transfer_id, e.posted, e.reason, e.counterparty) for e in st.entries] == [
        ("t2", -30, "redeem", "bob")
    ]
    assert st.closing.posted == 70
    full = statement(ledger.db, "alice", end=T0 + timedelta(days=2))
    first = full.entries[0]
    assert (first.source, first.correlation_id, first.details) == (
        "operator/tests", "batch-1", {"terminal": "0000000000A1"}
    )


def test_account_ids_are_idempotent_too(ledger: Ledger) -> None:
    assert ledger.create_accounts([AccountSpec("alice", P, "holder")], at=T0) == ["exists"]
    with pytest.raises(IdReusedError, match="asset"):
        ledger.create_accounts([AccountSpec("alice", Asset.CNY, "holder")], at=T0)


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, 2**60])
def test_amounts_are_positive_integers_in_range(amount) -> None:
    with pytest.raises(InvalidAmountError):
        earn("t", "alice", amount)


def test_time_must_carry_a_zone(ledger: Ledger) -> None:
    with pytest.raises(ValidationError):
        ledger.create_transfers([earn("t1", "alice", 1)], at=datetime(2025, 1, 1))


def test_reserved_and_malformed_ids_are_refused() -> None:
    for bad in ("", "~expire/x", "a b", "x" * 200):
        with pytest.raises(ValidationError):
            earn(bad, "alice", 1)


def test_a_write_that_need_not_flush_leaves_the_connection_flushing(tmp_path) -> None:
    """``Database.write(flush=False)`` relaxes only its own transaction: the next write on the
    same pooled connection waits for the disk again (SQLite ``synchronous`` 2 = FULL)."""
    from host.backoffice.database import Database

    db = Database(f"sqlite:///{tmp_path / 'flush.sqlite3'}")
    db.create_schema()
    with db.write(flush=False) as conn:
        inside = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    with db.write() as conn:
        after = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert (inside, after) == (1, 2)
