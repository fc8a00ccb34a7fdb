"""Clearing terminal batches (F10, F19) on both databases: verified records post points to
consumers and credit points to the merchant; a bad record rejects the whole batch with a
reason per record; a batch id answers the same result however often it is sent."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from host.backoffice import Asset, BatchRejectedError, IdReusedError, TerminalBatch
from host.backoffice.errors import DayClosedError, NotFoundError
from host.backoffice.records import PurseRecord, record_from_row
from host.backoffice.schema import bo_card_records
from tests.backoffice.backoffice_helpers import (
    BAKERY_TERMINAL,
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    check_invariants,
    posted,
)


def tea_batch(alliance: SampleAlliance, batch_id: str = "TEA-1") -> TerminalBatch:
    tea = alliance.terminal(TEA_TERMINAL)
    pay = tea.pay(card(1), 12_850, T0)
    tea.load(card(1), 128, 12_850, T0, payment_ref=pay)  # 1 point per yuan, rounded down
    tea.load(card(2), 5_600, 560_000, T0)
    return tea.close_batch(batch_id)


def reasons(exc: pytest.ExceptionInfo[BatchRejectedError]) -> dict[str, str]:
    return {r.record_id: r.reason for r in exc.value.rejections}


def test_a_batch_posts_points_and_two_way_credit_points(alliance: SampleAlliance) -> None:
    office = alliance.office
    result = office.clear(tea_batch(alliance), at=T0)
    assert (result.status, result.merchant_id, result.records) == ("created", "TEA", 4)
    assert result.earned == {"consumption_points": 5_728}
    assert result.merchant_credit_points == 572  # 1 per 10 points awarded, rounded down
    assert result.payments_fen == 12_850 + 560_000
    assert posted(office, "C001:consumption_points") == 128
    assert posted(office, "C002:consumption_points") == 5_600
    assert posted(office, "TEA:merchant_credit_points") == 572
    assert result.balances["C002:consumption_points"].posted == 5_600
    check_invariants(office.db, office.verifier)


def test_statement_says_where_points_came_from(alliance: SampleAlliance) -> None:
    office = alliance.office
    office.clear(tea_batch(alliance), at=T0)
    st = office.statement("C001:consumption_points", end=T0 + timedelta(days=1))
    [entry] = st.entries
    assert (entry.reason, entry.source, entry.correlation_id) == ("earn", "card/CARD0001", "TEA-1")
    assert entry.details["merchant"] == "TEA"
    assert entry.details["agreement"] == "TEA-STD"
    assert entry.details["purchase_fen"] == 12_850


@pytest.mark.parametrize("times", [1, 2, 5])
def test_the_same_batch_sent_n_times_posts_once(alliance: SampleAlliance, times: int) -> None:
    office = alliance.office
    batch = tea_batch(alliance)
    results = [office.clear(batch, at=T0 + timedelta(minutes=i)) for i in range(times)]
    assert [r.status for r in results] == ["created"] + ["exists"] * (times - 1)
    assert all(r.balances == results[0].balances for r in results)
    assert posted(office, "C002:consumption_points") == 5_600
    check_invariants(office.db)


def test_a_batch_id_with_other_content_is_refused(alliance: SampleAlliance) -> None:
    office = alliance.office
    batch = tea_batch(alliance)
    office.clear(batch, at=T0)
    altered = TerminalBatch(batch.batch_id, batch.terminal_id, batch.records[:-1])
    with pytest.raises(IdReusedError, match="exists_with_different_content"):
        office.clear(altered, at=T0)


def test_a_bad_tac_rejects_the_whole_batch(alliance: SampleAlliance) -> None:
    office = alliance.office
    batch = tea_batch(alliance)
    records = list(batch.records)
    forged = dataclasses.replace(records[3], amount=records[3].amount + 1)  # TAC no longer fits
    records[3] = forged
    with pytest.raises(BatchRejectedError) as info:
        office.clear(TerminalBatch("TEA-FORGED", batch.terminal_id, tuple(records)), at=T0)
    assert reasons(info)["r4"].startswith("points_differ_from_agreement")
    records[3] = dataclasses.replace(records[3], amount=records[3].amount - 1, tac=b"\0" * 4)
    with pytest.raises(BatchRejectedError) as info:
        office.clear(TerminalBatch("TEA-FORGED", batch.terminal_id, tuple(records)), at=T0)
    assert reasons(info) == {"r4": "bad_tac"}
    assert posted(office, "C001:consumption_points") == 0  # nothing of it posted
    check_invariants(office.db)


def test_every_bad_record_is_named(alliance: SampleAlliance) -> None:
    office = alliance.office
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(1), 10, 1_000, T0)
    too_many = tea.load(card(1), 99, 1_000, T0)  # agreement gives 10
    unknown = tea.load("CARD9999", 10, 1_000, T0, unpaid=True)  # no such consumer (no keys)
    not_a_bank = tea.load(card(2), 10, 100_000, T0, purse=Asset.BANK_POINTS, issuer_id="TEA")
    pay = tea.pay(card(3), 5_000, T0)
    differs = tea.load(card(3), 51, 5_100, T0, payment_ref=pay)  # purchase differs
    unpaid = tea.load(card(4), 10, 1_000, T0, unpaid=True)  # rewards no sale
    batch = tea.close_batch("TEA-MIXED")
    with pytest.raises(BatchRejectedError) as info:
        office.clear(batch, at=T0)
    assert reasons(info) == {
        too_many: "points_differ_from_agreement:TEA-STD:expected_10",
        unknown: "unknown_card",
        not_a_bank: "unknown_bank_issuer",
        differs: "purchase_differs_from_payment",
        unpaid: "load_without_sale",
    }


def test_points_cannot_be_spent_before_they_are_cleared(alliance: SampleAlliance) -> None:
    office = alliance.office
    earned = tea_batch(alliance)  # on the card, not yet at the back office
    bakery = alliance.terminal(BAKERY_TERMINAL)
    bakery.spend(card(2), 300, T0)
    spent = bakery.close_batch("BAKERY-1")
    with pytest.raises(BatchRejectedError) as info:
        office.clear(spent, at=T0)
    assert reasons(info) == {"r1": "insufficient_points"}
    office.clear(earned, at=T0)
    result = office.clear(spent, at=T0)  # the same batch, once its points are there
    assert result.redeemed == 300
    assert posted(office, "BAKERY:points_redeemed") == 300
    check_invariants(office.db, office.verifier)


def test_a_card_transaction_is_cleared_once_across_batches(alliance: SampleAlliance) -> None:
    office = alliance.office
    batch = tea_batch(alliance)
    office.clear(batch, at=T0)
    replay = TerminalBatch("TEA-REPLAY", batch.terminal_id, batch.records)
    with pytest.raises(BatchRejectedError) as info:
        office.clear(replay, at=T0)
    assert set(reasons(info).values()) == {"duplicate_card_transaction"}
    assert posted(office, "C002:consumption_points") == 5_600


def test_a_duplicate_inside_one_batch_is_named(alliance: SampleAlliance) -> None:
    batch = tea_batch(alliance)
    twice = dataclasses.replace(batch.records[2], record_id="r9")
    doubled = TerminalBatch("TEA-DOUBLE", batch.terminal_id, (*batch.records, twice))
    with pytest.raises(BatchRejectedError) as info:
        alliance.office.clear(doubled, at=T0)
    assert reasons(info) == {"r9": "duplicate_card_transaction"}


def test_bank_points_come_from_the_bank_by_its_agreement(alliance: SampleAlliance) -> None:
    office = alliance.office
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(4), 13, 12_500, T0, purse=Asset.BANK_POINTS, issuer_id="BANK")  # half up
    result = office.clear(tea.close_batch("TEA-BANK"), at=T0)
    assert result.earned == {"bank_points": 13}
    assert result.merchant_credit_points == 0  # two-way points are for merchants' points
    assert posted(office, "C004:bank_points") == 13
    assert posted(office, "BANK:bank_points_issued") == -13


def test_an_unregistered_terminal_is_refused(alliance: SampleAlliance) -> None:
    batch = tea_batch(alliance)
    with pytest.raises(NotFoundError, match="terminal"):
        alliance.office.clear(TerminalBatch("X-1", "00000000FFFF", batch.records), at=T0)


def test_a_settled_day_takes_no_more_batches(alliance: SampleAlliance) -> None:
    office = alliance.office
    office.clear(tea_batch(alliance), at=T0)
    office.settle(date(2025, 3, 14), at=T0 + timedelta(days=1))
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(5), 1, 100, T0)
    with pytest.raises(DayClosedError):
        office.clear(tea.close_batch("TEA-LATE"), at=T0 + timedelta(hours=2))
    result = office.clear(_again(alliance, "TEA-NEXT"), at=T0 + timedelta(days=1))
    assert result.business_day == date(2025, 3, 15)


def _again(alliance: SampleAlliance, batch_id: str) -> TerminalBatch:
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(6), 1, 100, T0 + timedelta(days=1))
    return tea.close_batch(batch_id)


def test_purse_records_of_other_purses_cannot_be_spent_at_merchants(
    alliance: SampleAlliance,
) -> None:
    tea_batch(alliance)
    bakery = alliance.terminal(BAKERY_TERMINAL)
    bakery.spend(card(1), 5, T0)
    batch = bakery.close_batch("B-CREDIT")
    credit = dataclasses.replace(batch.records[0], purse=Asset.CREDIT_POINTS)
    with pytest.raises(BatchRejectedError) as info:
        alliance.office.clear(TerminalBatch("B-CREDIT", batch.terminal_id, (credit,)), at=T0)
    assert reasons(info) == {"r1": "purse_not_redeemable_at_merchant"}


def test_a_forged_payment_cryptogram_is_rejected(alliance: SampleAlliance) -> None:
    tea = alliance.terminal(TEA_TERMINAL)
    tea.pay(card(1), 1_000, T0)
    batch = tea.close_batch("TEA-PAY")
    payment = batch.records[0]
    forged = dataclasses.replace(payment, arqc=bytes(8))
    with pytest.raises(BatchRejectedError) as info:
        alliance.office.clear(TerminalBatch("TEA-PAY", batch.terminal_id, (forged,)), at=T0)
    assert reasons(info) == {"r1": "bad_cryptogram"}
    assert alliance.office.clear(batch, at=T0).status == "created"


def test_stored_records_can_be_proved_again(alliance: SampleAlliance) -> None:
    office = alliance.office
    office.clear(tea_batch(alliance), at=T0)
    check_invariants(office.db, office.verifier)  # re-verifies every stored TAC and ARQC
    with office.db.read() as conn:
        rows = conn.execute(select(bo_card_records).order_by(bo_card_records.c.seq)).all()
    assert {r.record_type for r in rows} == {"payment", "load"}
    assert all(r.mac_verified for r in rows)
    tampered = dataclasses.replace(record_from_row(rows[1]), amount=rows[1].amount + 1)
    assert isinstance(tampered, PurseRecord)
    assert not office.verifier.verify_purse_tac(tampered)
