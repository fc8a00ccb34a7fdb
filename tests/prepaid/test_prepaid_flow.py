"""Issue, pay, refund, expire, reconcile and claim on SQLite and PostgreSQL: the mission's
scenario, idempotent retries, bad input refused with nothing posted, frozen cards."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from host.backoffice import Reason, Source, SourceKind, Transfer
from host.backoffice.assets import Asset
from host.backoffice.errors import (
    IdReusedError,
    NotFoundError,
    TransferRejectedError,
    ValidationError,
)
from host.backoffice.prepaid import IssueRequest, Program, ProgramKind, Trigger
from host.backoffice.prepaid.accounts import card_account, cny, custody
from host.backoffice.prepaid.errors import (
    ClaimStateError,
    InsufficientValueError,
    MerchantFrozenError,
)
from host.backoffice.schema import ledger_transfers
from tests.prepaid.prepaid_helpers import CAP, T0, Sample, check_invariants


def _transfer_count(sample: Sample) -> int:
    with sample.office.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar())


def test_the_missions_purchase_pays_across_cards_and_a_claim_pays_live_principal(
    sample: Sample,
) -> None:
    pp = sample.prepaid
    bought = pp.issue("buy-1", "GYM-FIT", "C001", 1_234_567, at=T0)
    cards = [c["card"] for c in bought["cards"]]
    assert len(cards) == 3 and all(c["value"] <= CAP for c in bought["cards"])
    assert sum(c["principal"] for c in bought["cards"]) == 1_234_567
    paid = pp.pay("pay-1", bought["account"], 600_000, at=T0 + timedelta(hours=1))
    assert [d["card"] for d in paid["draws"]] == cards[:2]
    check_invariants(pp)
    assert pp.reconcile(date(2025, 3, 14))["ok"]
    opened = pp.open_claim("CLM-1", "GYM", Trigger.CLOSURE, trigger_at=T0 + timedelta(days=1),
                           at=T0 + timedelta(days=1))
    live = pp.balance(bought["account"])
    assert opened["live_balance"] == live["balance"]
    assert opened["payout"] == live["principal"] < live["balance"]  # the bonus is not insured
    pp.review_claim("CLM-1", approve=True, note="closed", at=T0 + timedelta(days=2))
    done = pp.pay_claim("CLM-1", at=T0 + timedelta(days=3))
    assert done["state"] == "paid"
    assert sample.office.balance(cny("C001")).posted == live["principal"]
    assert pp.balance(bought["account"])["balance"] == 0
    check_invariants(pp)
    assert pp.reconcile(date(2025, 3, 17))["ok"]


@pytest.mark.parametrize("times", [1, 2, 5])
def test_the_same_request_posts_once(sample: Sample, times: int) -> None:
    pp = sample.prepaid
    answers = [pp.issue("buy-1", "GYM-FIT", "C002", 700_000, at=T0) for _ in range(times)]
    after_issue = _transfer_count(sample)
    pays = [pp.pay("pay-1", "C002/GYM-FIT", 1_000, at=T0) for _ in range(times)]
    claims = [pp.open_claim("CLM", "GYM", Trigger.CLOSURE, trigger_at=T0, at=T0)
              for _ in range(times)]
    assert [a["status"] for a in answers] == ["created"] + ["exists"] * (times - 1)
    assert all(a["cards"] == answers[0]["cards"] for a in answers)
    assert all(p["draws"] == pays[0]["draws"] for p in pays)
    assert all(c["lines"] == claims[0]["lines"] for c in claims)
    assert after_issue == _transfer_count(sample) - 2 - 2  # one payment, two holds
    issued = sum(c["value"] for c in answers[0]["cards"])
    assert pp.balance("C002/GYM-FIT")["balance"] == issued - 1_000


def test_a_request_id_reused_for_another_purchase_is_refused(sample: Sample) -> None:
    sample.prepaid.issue("buy-1", "GYM-FIT", "C001", 100, at=T0)
    with pytest.raises(IdReusedError):
        sample.prepaid.issue("buy-1", "GYM-FIT", "C001", 101, at=T0)


def test_bad_input_is_refused_with_nothing_posted(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 10_000, at=T0)
    before = _transfer_count(sample)
    for call, error in (
        (lambda: pp.issue("b2", "GYM-FIT", "C001", 0, at=T0), ValidationError),
        (lambda: pp.issue("b3", "GYM-FIT", "C001", -5, at=T0), ValidationError),
        (lambda: pp.issue("b4", "NOPE", "C001", 100, at=T0), NotFoundError),
        (lambda: pp.issue("b5", "GYM-FIT", "GYM", 100, at=T0), ValidationError),
        (lambda: pp.pay("p1", "C001/GYM-FIT", 0, at=T0), ValidationError),
        (lambda: pp.pay("p2", "C001/GYM-FIT", 11_001, at=T0), InsufficientValueError),
        (lambda: pp.pay("p3", "C009/GYM-FIT", 1, at=T0), NotFoundError),
        (lambda: pp.pay("p4", "C001/GYM-FIT", 1, at=T0, merchant_id="BAKERY"),
         ValidationError),
    ):
        with pytest.raises(error):
            call()
    assert _transfer_count(sample) == before
    check_invariants(pp)


def test_a_discount_card_draws_the_discounted_price(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "BAKE-10", "C003", 150_000, at=T0)
    paid = pp.pay("pay-1", "C003/BAKE-10", 10_000, at=T0)
    assert paid["charged"] == 9_000
    assert pp.balance("C003/BAKE-10")["balance"] == 141_000


def test_a_refund_restores_principal_and_bonus_part_for_part(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 600_000, at=T0)
    before = pp.balance("C001/GYM-FIT")
    pp.pay("pay-1", "C001/GYM-FIT", 520_000, at=T0)
    assert pp.refund("pay-1", at=T0)["status"] == "created"
    assert pp.refund("pay-1", at=T0)["status"] == "exists"
    after = pp.balance("C001/GYM-FIT")
    assert [(c["principal"], c["bonus"]) for c in after["cards"]] == \
        [(c["principal"], c["bonus"]) for c in before["cards"]]
    check_invariants(pp)


def test_a_frozen_card_never_pays_and_a_claim_pays_each_card_once(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 900_000, at=T0)
    pp.issue("buy-2", "GYM-FIT", "C002", 100_000, at=T0)
    pp.open_claim("CLM", "GYM", Trigger.LICENCE_LOST, trigger_at=T0, at=T0)
    with pytest.raises(MerchantFrozenError):
        pp.pay("pay-1", "C001/GYM-FIT", 1, at=T0)
    with pytest.raises(MerchantFrozenError):
        pp.issue("buy-3", "GYM-FIT", "C003", 100, at=T0)
    with pytest.raises(ClaimStateError):
        pp.open_claim("CLM-2", "GYM", Trigger.CLOSURE, trigger_at=T0, at=T0)
    with pytest.raises(ClaimStateError):
        pp.pay_claim("CLM", at=T0)
    pp.review_claim("CLM", approve=True, note="", at=T0)
    first = pp.pay_claim("CLM", at=T0)
    again = pp.pay_claim("CLM", at=T0)
    assert again["status"] == "exists" and again["payout"] == first["payout"] == 1_000_000
    assert sample.office.balance(cny("C001")).posted == 900_000
    check_invariants(pp)


def test_the_ledger_itself_refuses_a_payment_from_a_held_card(sample: Sample) -> None:
    """The freeze is the ledger's: a transfer out of a frozen card fails even if it goes
    around the prepaid tables."""
    pp = sample.prepaid
    card = pp.issue("buy-1", "GYM-FIT", "C001", 100_000, at=T0)["cards"][0]["card"]
    pp.open_claim("CLM", "GYM", Trigger.CLOSURE, trigger_at=T0, at=T0)
    with pytest.raises(TransferRejectedError):
        pp.ledger.post_all([Transfer.single("x", card_account(card), cny("GYM"), 1, Asset.CNY,
                                            Reason.REDEEM, Source(SourceKind.OPERATOR, "x"))],
                           at=T0)


def test_a_rejected_claim_unfreezes_the_cards(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 100_000, at=T0)
    pp.open_claim("CLM", "GYM", Trigger.FAILURE_TO_PERFORM, trigger_at=T0, at=T0)
    pp.review_claim("CLM", approve=False, note="performing", at=T0)
    assert pp.pay("pay-1", "C001/GYM-FIT", 100, at=T0)["status"] == "created"
    check_invariants(pp)


def test_expired_cards_give_up_their_value_with_a_live_record(db_url: str) -> None:
    sample = Sample.create(db_url, valid_days=30)
    pp = sample.prepaid
    bought = pp.issue("buy-1", "GYM-FIT", "C001", 200_000, at=T0)
    pp.issue("buy-2", "GYM-FIT", "C001", 100_000, at=T0 + timedelta(days=10))
    paid = pp.pay("pay-1", "C001/GYM-FIT", 1_000, at=T0 + timedelta(days=11))
    assert paid["draws"][0]["card"] == bought["cards"][0]["card"]  # expiring soonest first
    gone = pp.expire_due(at=T0 + timedelta(days=31))
    assert gone["total"] == sum(c["value"] for c in bought["cards"]) - 1_000
    with pytest.raises(NotFoundError):
        pp.history("0")
    assert pp.history(bought["cards"][0]["card"])[-1]["kind"] == "expire"
    check_invariants(pp)
    sample.office.close()


def test_reconciliation_reports_value_moved_around_the_live_records(sample: Sample) -> None:
    pp = sample.prepaid
    card = pp.issue("buy-1", "GYM-FIT", "C001", 100_000, at=T0)["cards"][0]["card"]
    pp.ledger.post_all([Transfer.single("op-1", card_account(card), cny("GYM"), 500, Asset.CNY,
                                        Reason.ADJUSTMENT, Source(SourceKind.OPERATOR, "x"))],
                       at=T0)
    report = pp.reconcile(date(2025, 3, 14))
    merchant = report["merchants"][0]
    assert not report["ok"] and merchant["difference"] == -500
    assert merchant["cards_disagreeing"] == [card]
    assert pp.ledger.account(custody("GYM")).balance.posted == 110_000


def test_balances_as_of_a_time_come_from_the_live_records(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 100_000, at=T0)
    pp.pay("pay-1", "C001/GYM-FIT", 30_000, at=T0 + timedelta(days=1))
    assert pp.balance("C001/GYM-FIT", as_of=T0 + timedelta(hours=1))["balance"] == 110_000
    assert pp.balance("C001/GYM-FIT", as_of=T0 - timedelta(hours=1))["balance"] == 0
    assert pp.balance("C001/GYM-FIT")["balance"] == 80_000


def test_policies_are_listed_per_merchant_holder_and_insurer(sample: Sample) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 1_234_567, at=T0)
    pp.issue("buy-2", "BAKE-10", "C002", 50_000, at=T0)
    assert len(pp.policies(merchant_id="GYM")) == 3
    assert len(pp.policies(holder_id="C002")) == 1
    assert len(pp.policies(insurer_id="PICC")) == 4
    gym = pp.policies(merchant_id="GYM")
    assert sum(p["sum_insured"] for p in gym) == 1_234_567
    assert sample.office.balance(cny("PICC")).posted == sum(
        p["premium"] for p in pp.policies(insurer_id="PICC"))


def test_a_count_card_pays_by_uses(sample: Sample) -> None:
    pp = sample.prepaid
    pp.add_program(Program("GYM-10X", "GYM", ProgramKind.COUNT, 100_000, "PICC", uses=10),
                   at=T0)  # a full card is ten uses of 100.00
    bought = pp.issue("buy-1", "GYM-10X", "C001", 150_000, at=T0)
    assert [c["uses"] for c in bought["cards"]] == [10, 5]
    paid = pp.pay("use-1", "C001/GYM-10X", 12, at=T0)
    assert paid["charged"] == 120_000
    assert [c["uses_left"] for c in pp.balance("C001/GYM-10X")["cards"]] == [0, 3]
    with pytest.raises(ValidationError):
        pp.issue("buy-2", "GYM-10X", "C001", 15_050, at=T0)  # not whole uses
    check_invariants(pp)


def test_a_sales_batch_is_all_or_nothing(sample: Sample) -> None:
    pp = sample.prepaid
    before = _transfer_count(sample)
    with pytest.raises(NotFoundError):
        pp.issue_many([IssueRequest("b1", "GYM-FIT", "C001", 100),
                       IssueRequest("b2", "GYM-FIT", "C404", 100)], at=T0)
    assert _transfer_count(sample) == before
    answers = pp.issue_many([IssueRequest("b1", "GYM-FIT", "C001", 100),
                             IssueRequest("b2", "BAKE-10", "C002", 100)], at=T0)
    assert [a["status"] for a in answers] == ["created", "created"]
    assert pp.issue_many([IssueRequest("b2", "BAKE-10", "C002", 100)],
                         at=T0)[0]["status"] == "exists"


def test_the_same_purchase_sent_at_once_from_threads_issues_once(sample: Sample) -> None:
    pp = sample.prepaid
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: pp.issue("buy-1", "GYM-FIT", "C001", 600_000,
                                                   at=T0), range(4)))
    assert sorted(a["status"] for a in answers) == ["created"] + ["exists"] * 3
    assert len(pp.balance("C001/GYM-FIT")["cards"]) == 2
    check_invariants(pp)


def test_payments_on_one_account_from_threads_keep_the_live_records_true(
    sample: Sample,
) -> None:
    pp = sample.prepaid
    pp.issue("buy-1", "GYM-FIT", "C001", 1_200_000, at=T0)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda n: pp.pay(f"pay-{n}", "C001/GYM-FIT", 70_000, at=T0),
                                range(12)))
    assert all(a["status"] == "created" for a in answers)
    assert pp.balance("C001/GYM-FIT")["balance"] == sum(
        c["balance"] for c in pp.balance("C001/GYM-FIT")["cards"]) == 1_319_998 - 12 * 70_000
    check_invariants(pp)
