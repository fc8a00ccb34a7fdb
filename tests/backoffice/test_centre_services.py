"""The settlement centre's services on SQLite and PostgreSQL: bills, vouchers, payroll,
spending analysis with budget reminders, the dynamic credit line; bad input at each entry is
a clear error and posts nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from host.backoffice.centre import Condition, OrderRequest, ReleaseBy, SettlementCentre
from host.backoffice.centre.credit_rule import BASE_LINE
from host.backoffice.centre.errors import CentreRefusedError, VoucherRefusedError
from host.backoffice.centre.payroll import PayrollLine
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.outbox import undelivered
from tests.backoffice.backoffice_helpers import check_invariants
from tests.backoffice.centre_helpers import ADDRESS, CAP, LINE, T0, make_centre, transfer_count


@pytest.fixture
def centre(db_url: str) -> Iterator[SettlementCentre]:
    made = make_centre(db_url)
    made.register_biller("M2", "water", at=T0)
    yield made
    check_invariants(made.db)
    made.close()


def virtual(centre: SettlementCentre, holder: str = "C1") -> int:
    return int(centre.balances(holder)["virtual"]["posted"])


def test_a_bill_is_looked_up_paid_once_and_its_receipt_answered_again(
        centre: SettlementCentre) -> None:
    centre.issue_bill("M2", "0042", "2030-02", 12_000, at=T0)
    centre.issue_bill("M2", "0042", "2030-03", 13_000, at=T0)
    assert [b.period for b in centre.lookup_bills("M2", "0042")] == ["2030-02", "2030-03"]
    bill, status = centre.pay_bill("C1", "M2", "0042", at=T0)
    assert (bill.period, status, bill.paid_by) == ("2030-02", "created", "C1")
    again, status = centre.pay_bill("C1", "M2", "0042", period="2030-02", at=T0)
    assert status == "exists" and again.transfer_id == bill.transfer_id
    with pytest.raises(CentreRefusedError, match="already paid"):
        centre.pay_bill("C2", "M2", "0042", period="2030-02", at=T0)
    assert centre.ledger.account("M2:cny").balance.posted == 12_000
    assert virtual(centre) == 0  # the settlement account repaid it at once
    assert centre.balances("C1")["settlement"]["posted"] == CAP - 12_000


@pytest.mark.parametrize(("biller", "number", "error"), [
    ("NOBODY", "0042", NotFoundError), ("M2", "9999", NotFoundError),
])
def test_unknown_billers_and_numbers_are_named_and_nothing_is_posted(
        centre: SettlementCentre, biller: str, number: str, error: type[Exception]) -> None:
    centre.issue_bill("M2", "0042", "2030-02", 12_000, at=T0)
    before = transfer_count(centre, "")
    with pytest.raises(error, match=biller if biller == "NOBODY" else number):
        centre.pay_bill("C1", biller, number, at=T0)
    assert transfer_count(centre, "") == before


def test_bad_bills_are_refused(centre: SettlementCentre) -> None:
    with pytest.raises(ValidationError):
        centre.issue_bill("M2", "0042", "2030-02", 0, at=T0)
    with pytest.raises(ValidationError):
        centre.register_biller("M1", "cable", at=T0)
    centre.issue_bill("M2", "0042", "2030-02", 100, at=T0)
    with pytest.raises(IdReusedError):
        centre.issue_bill("M2", "0042", "2030-02", 101, at=T0)


def test_a_voucher_tops_up_once(centre: SettlementCentre) -> None:
    [code] = centre.issue_vouchers(5_000, 1, at=T0)
    assert centre.redeem_voucher("C1", code.lower(), at=T0) == 5_000
    assert virtual(centre) == 5_000
    with pytest.raises(VoucherRefusedError, match="already used"):
        centre.redeem_voucher("C2", code, at=T0)
    with pytest.raises(VoucherRefusedError, match="no such voucher"):
        centre.redeem_voucher("C1", "AAAA-BBBB-CCCC-DDDD", at=T0)
    assert virtual(centre, "C2") == 0


def test_payroll_posts_every_line_once_or_none(centre: SettlementCentre) -> None:
    centre.register_employee("M1", "E1", "C1")
    centre.register_employee("M1", "E2", "C2")
    lines = [PayrollLine(1, "E1", 300_000), PayrollLine(2, "E2", 250_000)]
    assert centre.run_payroll("P-03", "M1", lines, at=T0).status == "created"
    assert centre.run_payroll("P-03", "M1", lines, at=T0).status == "exists"
    assert (virtual(centre, "C1"), virtual(centre, "C2")) == (300_000, 250_000)
    with pytest.raises(IdReusedError):
        centre.run_payroll("P-03", "M1", lines[:1], at=T0)


@pytest.mark.parametrize(("line", "message"), [
    (PayrollLine(3, "E9", 100), "no employee 'E9'"),
    (PayrollLine(3, "E1", 0), "line 3: amount"),
    (PayrollLine(3, "E1", -5), "line 3: amount"),
    (PayrollLine(1, "E1", 5), "line 1 appears twice"),
])
def test_one_bad_payroll_line_refuses_the_batch_and_posts_nothing(
        centre: SettlementCentre, line: PayrollLine, message: str) -> None:
    centre.register_employee("M1", "E1", "C1")
    before = transfer_count(centre, "")
    with pytest.raises((ValidationError, NotFoundError), match=message):
        centre.run_payroll("P-bad", "M1", [PayrollLine(1, "E1", 100), line], at=T0)
    assert transfer_count(centre, "") == before
    assert centre.run_payroll("P-bad", "M1", [PayrollLine(1, "E1", 100)], at=T0).lines == 1


def test_spending_by_category_and_month_and_one_reminder_per_budget_crossed(
        centre: SettlementCentre) -> None:
    centre.set_budget("C1", "shopping", 50_000)
    for n, day in ((1, 0), (2, 1), (3, 2)):
        centre.place_order(OrderRequest(f"O{n}", "C1", "M1", 20_000, Condition.ACCEPTANCE,
                                        ADDRESS, T0 + timedelta(days=30), mcc=5942), at=T0)
        centre.release(f"O{n}", "r", by=ReleaseBy.HOLDER, at=T0 + timedelta(days=day))
    centre.issue_bill("M2", "0042", "2030-02", 1_500, at=T0)
    centre.pay_bill("C1", "M2", "0042", at=T0)
    shown = centre.spending("C1")
    assert shown["months"] == {"2030-03": {"shopping": 60_000, "water": 1_500}}
    reminders = [m for m in undelivered(centre.db) if m.kind.value == "budget_crossed"]
    assert [(m.body["spent"], m.body["budget"]) for m in reminders] == [(60_000, 50_000)]


def test_the_credit_line_moves_with_spending_and_refused_top_ups_with_its_reason(
        db_url: str) -> None:
    centre = make_centre(db_url, deposit=CAP + 1_000)
    change = centre.review_credit("C2", at=T0)
    assert (change.old, change.new) == (LINE, BASE_LINE) and "base" in change.explanation
    centre.place_order(OrderRequest("O1", "C1", "M1", 450_000, Condition.ACCEPTANCE, ADDRESS,
                                    T0 + timedelta(days=30)), at=T0)
    centre.release("O1", "r", by=ReleaseBy.HOLDER, at=T0)  # the top-up is refused
    change = centre.review_credit("C1", at=T0)
    assert change.new == (BASE_LINE + 450_000 // 2) * 75 // 100
    assert "1 refused top-up" in change.explanation
    assert centre.review_credit("C1", at=T0).new == change.new  # nothing new: kept
    check_invariants(centre.db)
    centre.close()
