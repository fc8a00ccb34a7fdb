"""Points spent from chip 2 (F5, F20): at the merchant, for money, for a premium."""

from __future__ import annotations

from apdu_specs.commands.purse_data import Purse
from host.payment.stripe import encode_stripe
from host.pos import PaymentMethod, TxnKind, TxnStatus
from host.testing.faults import CardFaults
from host.testing.personalise import SAMPLE

from .conftest import PIN, Rig


def _earn_by_stripe(rig: Rig, amount: int) -> None:
    """Consumption points earned and cleared (a stripe sale has no chip payment to clear)."""
    tracks = encode_stripe(SAMPLE.debit, SAMPLE.payment_keys)
    CardFaults(rig.card).force_sw(chip=1, ins=0xA4, sw=0x6F00)
    rig.terminal.purchase(amount, pin=PIN, swipe=tracks.track2[: tracks.track2.index("?") + 1])
    rig.terminal.upload()


def test_points_spent_at_the_merchant_are_proven_by_the_card(rig: Rig) -> None:
    rig.terminal.purchase(150_00, pin=PIN, method=PaymentMethod.DEBIT)
    result = rig.terminal.spend_points(40)
    assert result.approved and result.kind is TxnKind.POINTS
    assert result.movement is not None and result.movement.points == -40
    assert result.movement.balance_after == 110 and len(result.movement.tac) == 4
    slip = rig.terminal.slip(result.txn_id)
    assert slip.kind == "POINTS" and [(p.purse, p.points) for p in slip.points] == [
        ("CONSUMPTION", -40)]


def test_more_points_than_the_card_holds_is_a_decline(rig: Rig) -> None:
    result = rig.terminal.spend_points(10)
    assert result.status is TxnStatus.DECLINED and result.message == \
        "not enough points on the card"
    assert rig.terminal.journal.pending() == []


def test_a_wrong_purse_pin_is_an_outcome_with_the_tries_left(rig: Rig) -> None:
    rig.terminal.purchase(50_00, pin=PIN)
    wrong = rig.terminal.spend_points(5, pin="000000")
    assert wrong.status is TxnStatus.DECLINED and wrong.message == "wrong PIN, 2 tries left"
    right = rig.terminal.spend_points(5, pin=SAMPLE.purse_pin)
    assert right.approved


def test_a_premium_paid_with_points_reaches_the_insurer(rig: Rig) -> None:
    _earn_by_stripe(rig, 500_00)
    result = rig.terminal.pay_premium(300, insurer_id="insurer", policy="POL-1",
                                      purse=Purse.CONSUMPTION)
    assert result.approved and result.message == "premium paid"
    assert result.redemption is not None and result.redemption.fen == 300
    assert rig.office.balance("insurer:cny").posted == 300
    assert rig.office.balance("zhang:consumption_points").posted == 200
    assert rig.terminal.card.points.balance(Purse.CONSUMPTION) == 200
    assert rig.terminal.slip(result.txn_id).redeemed == 300


def test_points_converted_into_money(rig: Rig) -> None:
    _earn_by_stripe(rig, 100_00)
    result = rig.terminal.convert_points(60, purse=Purse.CONSUMPTION)
    assert result.approved and result.kind is TxnKind.CONVERSION
    assert rig.office.balance("zhang:cny").posted == 60
    assert result.redemption is not None and result.redemption.status == "created"
