"""Credit granting (F11): explainable rules raise consumers' lines from points earned and
merchants' from credit points; each raise is logged, enforced by the ledger and queued for
chip 1 as an issuer script."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from host.backoffice import Asset, Reason, Source, SourceKind, Transfer, TransferCode
from host.backoffice.credit import CONSUMER_RULE, CreditRule
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.members import MemberKind
from host.backoffice.schema import bo_credit_changes
from tests.backoffice.backoffice_helpers import (
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    check_invariants,
)

REVIEW = T0 + timedelta(days=1)


@pytest.fixture
def shoppers(alliance: SampleAlliance) -> SampleAlliance:
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(1), 5_600, 560_000, T0)
    tea.load(card(2), 999, 99_900, T0)
    alliance.office.clear(tea.close_batch("TEA-CREDIT"), at=T0)
    return alliance


def test_rules_raise_lines_with_an_explanation(shoppers: SampleAlliance) -> None:
    decisions = {d.member_id: d for d in shoppers.office.review_credit(at=REVIEW)}
    raised = decisions["C001"]
    assert (raised.old_limit, raised.new_limit, raised.raised) == (0, 200_000, True)
    assert "5600 ≥ 5000" in raised.explanation and "2,000.00 CNY" in raised.explanation
    assert not decisions["C002"].raised  # 999 points: below the first tier
    assert decisions["TEA"].new_limit == 500_000  # 655 merchant credit points ≥ 100
    with shoppers.office.db.read() as conn:
        logged = conn.execute(select(bo_credit_changes)).all()
    assert {(r.member_id, r.new_limit, r.rule) for r in logged} == {
        ("C001", 200_000, "consumer-points-180d"), ("TEA", 500_000, "merchant-credit-points")
    }


def test_the_ledger_enforces_the_new_line(shoppers: SampleAlliance) -> None:
    office = shoppers.office
    pay = Source(SourceKind.TERMINAL, TEA_TERMINAL)

    def spend(tid: str, amount: int) -> TransferCode:
        [r] = office.ledger.create_transfers([Transfer.single(
            tid, "C001:credit_line", "TEA:cny", amount, Asset.CNY, Reason.ADJUSTMENT, pay
        )], at=REVIEW)
        return r.code

    assert spend("before", 1) is TransferCode.EXCEEDS_LOWER_BOUND
    office.review_credit(at=REVIEW)
    assert spend("within", 200_000) is TransferCode.CREATED
    assert spend("beyond", 1) is TransferCode.EXCEEDS_LOWER_BOUND
    check_invariants(office.db)


def test_new_limits_wait_for_the_cards_next_online_transaction(shoppers: SampleAlliance) -> None:
    office = shoppers.office
    office.review_credit(at=REVIEW)
    [update] = office.pending_limit_updates(card(1))
    assert (update.card_id, update.new_limit) == (card(1), 200_000)
    assert office.pending_limit_updates(card(2)) == []
    assert office.mark_delivered(update.script_id, at=REVIEW) is True
    assert office.mark_delivered(update.script_id, at=REVIEW) is False
    assert office.pending_limit_updates(card(1)) == []
    with pytest.raises(NotFoundError):
        office.mark_delivered("limit/nope/1", at=REVIEW)


def test_a_review_never_lowers_and_repeats_quietly(shoppers: SampleAlliance) -> None:
    office = shoppers.office
    office.review_credit(at=REVIEW)
    again = {d.member_id: d for d in office.review_credit(at=REVIEW + timedelta(days=365))}
    assert again["C001"].new_limit == 200_000  # points aged out of the window: kept
    assert not again["C001"].raised
    assert len(office.pending_limit_updates(card(1))) == 1


def test_limit_raised_notices(shoppers: SampleAlliance) -> None:
    shoppers.office.review_credit(at=REVIEW, member_ids=["C001"])
    [notice] = [m for m in shoppers.office.messages() if m.kind.value == "limit_raised"]
    assert (notice.recipient_id, notice.body["new_limit_fen"]) == ("C001", 200_000)
    with pytest.raises(NotFoundError):
        shoppers.office.review_credit(at=REVIEW, member_ids=["NOBODY"])


def test_rules_must_ascend() -> None:
    with pytest.raises(ValidationError):
        CreditRule("bad", MemberKind.CONSUMER, ((10, 500), (5, 900)))
    assert CONSUMER_RULE.line_for(999) == (0, None)
    assert CONSUMER_RULE.line_for(20_000) == (500_000, 20_000)


def test_a_line_opened_at_issuance_is_the_base_of_later_raises(shoppers: SampleAlliance) -> None:
    office = shoppers.office
    opened = office.open_credit_line("C001", 100_000, at=T0)
    assert (opened.old_limit, opened.new_limit, opened.script_id) == (0, 100_000, None)
    assert office.pending_limit_updates(card(1)) == []  # the card was issued with it
    decisions = {d.member_id: d for d in office.review_credit(at=REVIEW)}
    assert (decisions["C001"].old_limit, decisions["C001"].new_limit) == (100_000, 200_000)
    assert "1,000.00 CNY to 2,000.00 CNY" in decisions["C001"].explanation
    with pytest.raises(ValidationError):
        office.open_credit_line("C002", -1, at=T0)
    check_invariants(office.db)
