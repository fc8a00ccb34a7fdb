"""Net settlement of a business day (F19): merchants fund the points they issued and are
reimbursed for points redeemed at them; one CNY transfer each; settling closes the day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from host.backoffice.errors import ValidationError
from host.backoffice.rates import Ratio, Rounding
from host.backoffice.settings import AllianceSettings
from tests.backoffice.backoffice_helpers import (
    BAKERY_TERMINAL,
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    check_invariants,
    posted,
)

DAY = date(2025, 3, 14)
AFTER = T0 + timedelta(days=1)


def _a_day(alliance: SampleAlliance) -> None:
    office = alliance.office
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(1), 500, 50_000, T0)
    tea.load(card(2), 250, 25_000, T0)
    office.clear(tea.close_batch("TEA-1"), at=T0)
    bakery = alliance.terminal(BAKERY_TERMINAL)
    bakery.load(card(3), 40, 2_000, T0)  # 2 points per yuan
    bakery.spend(card(1), 300, T0)
    bakery.spend(card(2), 100, T0)
    office.clear(bakery.close_batch("BAKERY-1"), at=T0)


def test_each_merchant_settles_its_net_position(alliance: SampleAlliance) -> None:
    _a_day(alliance)
    office = alliance.office
    result = office.settle(DAY, at=AFTER)
    positions = {p.merchant_id: p for p in result.positions}
    assert (positions["TEA"].points_issued, positions["TEA"].net_fen) == (750, -750)
    bakery = positions["BAKERY"]
    assert (bakery.points_issued, bakery.points_redeemed, bakery.net_fen) == (40, 400, 360)
    assert posted(office, "TEA:cny") == -750  # paid in
    assert posted(office, "BAKERY:cny") == 360  # paid out
    assert posted(office, "alliance:cny") == 390  # backs the 390 points still outstanding
    assert result.balances["alliance:cny"].posted == 390
    check_invariants(office.db)


def test_settling_twice_answers_the_first_settlement(alliance: SampleAlliance) -> None:
    _a_day(alliance)
    first = alliance.office.settle(DAY, at=AFTER)
    again = alliance.office.settle(DAY, at=AFTER + timedelta(hours=3))
    assert (first.status, again.status) == ("created", "exists")
    assert again.positions == first.positions
    assert again.balances == first.balances
    assert posted(alliance.office, "alliance:cny") == 390


def test_a_day_cannot_be_settled_before_it_ends(alliance: SampleAlliance) -> None:
    with pytest.raises(ValidationError, match="has not ended"):
        alliance.office.settle(DAY, at=T0 + timedelta(hours=10))


def test_point_value_rounding_favours_the_alliance() -> None:
    value = AllianceSettings().point_value
    assert value.num == value.den == 1
    third = Ratio(1, 3)  # a point worth a third of a fen
    assert third.apply(10, Rounding.UP) == 4  # a merchant funds 10 points with 4 fen
    assert third.apply(10, Rounding.DOWN) == 3  # and is reimbursed 3 fen for 10 redeemed


def test_settlement_notices_reach_the_outbox(alliance: SampleAlliance) -> None:
    _a_day(alliance)
    alliance.office.settle(DAY, at=AFTER)
    notices = [m for m in alliance.office.messages(limit=500) if m.kind.value == "settlement"]
    assert {(m.recipient_id, m.body["net_fen"]) for m in notices} == {("TEA", -750),
                                                                     ("BAKERY", 360)}
