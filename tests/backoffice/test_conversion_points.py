"""Points converted into money or into an insurance premium (F5, F20): a linked chain through
the liquidity accounts, rate and fee recorded, rounding in favour of the liquidity account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from host.backoffice import IdReusedError, Ratio, TransferRejectedError
from host.backoffice.conversion import quote
from host.backoffice.errors import ValidationError
from tests.backoffice.backoffice_helpers import (
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    check_invariants,
    posted,
)

LATER = T0 + timedelta(hours=2)


@pytest.fixture
def rich(alliance: SampleAlliance) -> SampleAlliance:
    tea = alliance.terminal(TEA_TERMINAL)
    tea.load(card(1), 1_000, 100_000, T0)
    alliance.office.clear(tea.close_batch("TEA-RICH"), at=T0)
    return alliance


def test_quote_rounds_for_the_liquidity_account() -> None:
    q = quote(1_001, Ratio(1, 3), 50)  # 0.5 % fee; a point worth a third of a fen
    assert q.fee_points == 6  # ceil(5.005)
    assert q.net_points == 995
    assert q.fen == 331  # floor(331.67)
    with pytest.raises(ValidationError):
        quote(2, Ratio(1, 3), 0)  # buys less than a fen


def test_points_to_money_on_the_holders_bank_account(rich: SampleAlliance) -> None:
    office = rich.office
    result = office.convert("CV-1", "C001", 400, at=LATER, rate=Ratio(1, 2), fee_bp=100)
    assert (result.quote.fee_points, result.quote.net_points, result.quote.fen) == (4, 396, 198)
    assert posted(office, "C001:consumption_points") == 600
    assert posted(office, "C001:cny") == 198
    assert posted(office, "alliance:liquidity.consumption_points") == 396
    assert posted(office, "alliance:fees.consumption_points") == 4
    entry = office.statement("C001:cny", end=LATER).entries[0]
    assert entry.details["rate"] == "1/2" and entry.details["fee_bp"] == 100
    check_invariants(office.db)


def test_points_pay_an_insurance_premium(rich: SampleAlliance) -> None:
    office = rich.office
    result = office.convert("CV-2", "C001", 300, at=LATER, insurer_id="INSURER",
                            policy="POL-42")
    assert result.target == "INSURER:cny"
    assert posted(office, "INSURER:cny") == 300
    entry = office.statement("INSURER:cny", end=LATER).entries[0]
    assert (entry.reason, entry.details["policy"]) == ("premium", "POL-42")


def test_a_conversion_is_all_or_nothing_and_idempotent(rich: SampleAlliance) -> None:
    office = rich.office
    with pytest.raises(TransferRejectedError):
        office.convert("CV-BIG", "C001", 1_001, at=LATER)
    assert posted(office, "C001:consumption_points") == 1_000
    assert posted(office, "C001:cny") == 0
    first = office.convert("CV-3", "C001", 100, at=LATER)
    again = office.convert("CV-3", "C001", 100, at=LATER + timedelta(minutes=5))
    assert (first.status, again.status) == ("created", "exists")
    assert posted(office, "C001:cny") == 100
    with pytest.raises(IdReusedError):
        office.convert("CV-3", "C001", 101, at=LATER)


def test_only_consumers_convert_and_only_insurers_take_premiums(rich: SampleAlliance) -> None:
    with pytest.raises(ValidationError):
        rich.office.convert("CV-4", "TEA", 10, at=LATER)
    with pytest.raises(ValidationError):
        rich.office.convert("CV-5", "C001", 10, at=LATER, insurer_id="BANK", policy="P")
    with pytest.raises(ValidationError):
        rich.office.convert("CV-6", "C001", 10, at=LATER, insurer_id="INSURER")
