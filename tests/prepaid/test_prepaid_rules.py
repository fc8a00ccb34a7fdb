"""The decisions without I/O: the split under the cap, the drawing order and its principal
and bonus parts, premiums and payouts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.crypto.luhn import is_valid
from host.backoffice.errors import ValidationError
from host.backoffice.prepaid.drawing import CardView, draw, split_draw
from host.backoffice.prepaid.errors import InsufficientValueError
from host.backoffice.prepaid.premiums import payout, premium
from host.backoffice.prepaid.programs import Program, ProgramKind
from host.backoffice.prepaid.split import card_number, principal_cap, split_purchase

pytestmark = pytest.mark.unit


def test_the_missions_purchase_is_three_cards_the_remainder_on_the_last() -> None:
    plans = split_purchase(1_234_567, 500_000)
    assert [(p.principal, p.bonus) for p in plans] == [(500_000, 0), (500_000, 0),
                                                      (234_567, 0)]


@given(st.integers(1, 10**9), st.integers(1, 10**7), st.integers(0, 10_000))
def test_a_split_keeps_every_card_within_the_cap_and_loses_no_fen(
    amount: int, cap: int, bonus_bp: int
) -> None:
    try:
        plans = split_purchase(amount, cap, bonus_bp)
    except ValidationError:
        return  # more cards than one purchase may be
    assert sum(p.principal for p in plans) == amount
    assert all(0 < p.value <= cap for p in plans)
    most = principal_cap(cap, bonus_bp)
    assert all(p.principal == most for p in plans[:-1])
    assert len(plans) == -(-amount // most)


def test_bad_amounts_and_caps_are_refused() -> None:
    for amount, cap in ((0, 100), (-5, 100), (100, 0), (100, -1)):
        with pytest.raises(ValidationError):
            split_purchase(amount, cap)
    with pytest.raises(ValidationError):
        Program("P", "M", ProgramKind.BONUS, 0, "I")


def test_card_numbers_are_luhn_valid_and_distinct_per_program() -> None:
    numbers = {card_number(p, s) for p in (1, 2) for s in (1, 2, 999_999_999)}
    assert len(numbers) == 6 and all(len(n) == 16 and is_valid(n) for n in numbers)


def _card(no: str, principal: int, bonus: int = 0, expires: int | None = None,
          priority: int = 0, seq: int = 0) -> CardView:
    return CardView(no, principal, bonus, expires, priority, seq)


def test_expiring_cards_pay_first_then_priority_then_issue_order() -> None:
    cards = [_card("a", 100, seq=1), _card("b", 100, priority=-1, seq=2),
             _card("c", 100, expires=50, seq=3), _card("d", 100, expires=10, seq=4)]
    assert [d.card_no for d in draw(cards, 350)] == ["d", "c", "b", "a"]
    assert [d.amount for d in draw(cards, 350)] == [100, 100, 100, 50]


def test_a_payment_above_the_cards_is_refused_whole() -> None:
    with pytest.raises(InsufficientValueError):
        draw([_card("a", 100), _card("b", 50, 5)], 156)


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.data())
def test_a_draw_splits_within_the_principal_and_the_bonus(
    principal: int, bonus: int, data: st.DataObject
) -> None:
    if principal + bonus == 0:
        return
    amount = data.draw(st.integers(1, principal + bonus))
    p, b = split_draw(amount, principal, bonus)
    assert p + b == amount and 0 <= p <= principal and 0 <= b <= bonus
    assert p * (principal + bonus) <= amount * principal  # principal never overtaken


def test_premiums_are_pro_rata_and_rounded_up() -> None:
    assert premium(500_000, 80, 365) == 4_000
    assert premium(234_567, 80, 365) == 1_877  # 1876.536 up
    assert premium(500_000, 80, 73) == 800


def test_a_payout_is_the_live_principal_within_the_term_only() -> None:
    inside = payout(principal=300, bonus=30, sum_insured=500, starts=0, ends=100, trigger=50)
    assert inside.amount == 300 and "principal only" in inside.explanation
    capped = payout(principal=600, bonus=0, sum_insured=500, starts=0, ends=100, trigger=50)
    assert capped.amount == 500 and "sum insured" in capped.explanation
    late = payout(principal=300, bonus=0, sum_insured=500, starts=0, ends=100, trigger=100)
    assert late.amount == 0 and "outside" in late.explanation
