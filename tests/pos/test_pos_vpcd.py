"""The terminal through the real PC/SC stack: the card served on pcscd + vpcd."""

from __future__ import annotations

from pathlib import Path

import pytest

from apdu_specs.commands.purse_data import Purse
from host.points import SoftwarePurchaseSAM
from host.pos import Journal, PaymentMethod, Terminal
from host.testing.personalise import SAMPLE

from .conftest import MERCHANT, PIN, Clock, build_office, make_link

pytestmark = pytest.mark.vpcd


def test_a_sale_through_pcscd(vpcd_card, tmp_path: Path) -> None:
    office = build_office(tmp_path)
    try:
        terminal = Terminal.over(vpcd_card, merchant=MERCHANT, backoffice=make_link(office),
                                 sam=SoftwarePurchaseSAM(SAMPLE.purse_keys, MERCHANT.terminal_id),
                                 journal=Journal(terminal_id=MERCHANT.terminal_hex),
                                 clock=Clock())
        sale = terminal.purchase(30_00, pin=PIN, method=PaymentMethod.DEBIT)
        assert sale.approved and [m.points for m in sale.points] == [30, 15]
        assert terminal.card.points.balance(Purse.CONSUMPTION) == 30
        spent = terminal.spend_points(10)
        assert spent.approved and spent.movement is not None
        assert spent.movement.balance_after == 20
    finally:
        office.close()
