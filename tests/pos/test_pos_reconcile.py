"""A card pulled out, or an answer lost, mid-transaction: the journal already holds the
transaction, and reconciliation settles it from the card's own proof (GET TRANSACTION
PROVE) or, for chip 1, by voiding what never got its final cryptogram."""

from __future__ import annotations

import pytest

from apdu_specs.commands.purse_data import Purse
from host.backoffice.errors import BackOfficeError
from host.payment.stripe import encode_stripe
from host.pos import PaymentMethod, TransactionInterruptedError, TxnStatus
from host.pos.reconcile import reconcile
from host.testing.faults import CardFaults
from host.testing.personalise import SAMPLE

from .conftest import PIN, Rig

CREDIT_FOR_LOAD, DEBIT_FOR_PURCHASE, GENERATE_AC, SELECT = 0x52, 0x54, 0xAE, 0xA4


def _balances(rig: Rig) -> dict[Purse, int]:
    return rig.terminal.card.points.balances()


def test_a_load_whose_answer_was_lost_is_found_done_and_recorded(rig: Rig) -> None:
    CardFaults(rig.card).truncate(chip=2, ins=CREDIT_FOR_LOAD, keep=0)
    with pytest.raises(TransactionInterruptedError) as raised:
        rig.terminal.purchase(120_00, pin=PIN, method=PaymentMethod.DEBIT)
    error = raised.value
    assert error.stage == "consumption points load" and error.partial.approved
    entry = rig.terminal.journal.entry(error.txn_id)
    assert (entry.status, entry.stage) == (TxnStatus.APPROVED, "earn interrupted")
    assert [p.slot for p in rig.terminal.journal.pending()] == ["load-consumption"]
    assert rig.terminal.journal.unbatched_records() == 1  # the payment only, so far

    outcomes = rig.terminal.reconcile()
    assert [(o.txn_id, o.action) for o in outcomes] == [(error.txn_id, "completed")]
    assert rig.terminal.journal.pending() == []
    assert rig.terminal.journal.unbatched_records() == 2
    assert _balances(rig)[Purse.CONSUMPTION] == 120
    slip = rig.terminal.slip(error.txn_id)
    assert [(p.purse, p.points) for p in slip.points] == [("CONSUMPTION", 120)]


def test_a_load_the_card_never_ran_is_dropped(rig: Rig) -> None:
    CardFaults(rig.card).mute(chip=2, ins=CREDIT_FOR_LOAD)
    with pytest.raises(TransactionInterruptedError) as raised:
        rig.terminal.purchase(80_00, pin=PIN, method=PaymentMethod.CREDIT)
    rig.reinsert()
    outcomes = rig.terminal.reconcile()
    assert [o.action for o in outcomes] == ["not done"]
    assert _balances(rig)[Purse.CONSUMPTION] == 0
    assert rig.terminal.journal.entry(raised.value.txn_id).stage == "done"


def test_a_spend_whose_answer_was_lost_is_proven_by_the_card(rig: Rig) -> None:
    rig.terminal.purchase(300_00, pin=PIN, method=PaymentMethod.DEBIT)
    CardFaults(rig.card).truncate(chip=2, ins=DEBIT_FOR_PURCHASE, keep=0)
    with pytest.raises(TransactionInterruptedError) as raised:
        rig.terminal.spend_points(100)
    assert rig.terminal.journal.entry(raised.value.txn_id).status is TxnStatus.INCOMPLETE
    (outcome,) = rig.terminal.reconcile()
    assert outcome.action == "completed"
    entry = rig.terminal.journal.entry(raised.value.txn_id)
    assert entry.status is TxnStatus.APPROVED and entry.summary["movement"]["points"] == -100
    assert _balances(rig)[Purse.CONSUMPTION] == 200


def test_a_spend_the_card_never_ran_is_voided(rig: Rig) -> None:
    rig.terminal.purchase(300_00, pin=PIN, method=PaymentMethod.DEBIT)
    CardFaults(rig.card).mute(chip=2, ins=DEBIT_FOR_PURCHASE)
    with pytest.raises(TransactionInterruptedError) as raised:
        rig.terminal.spend_points(100)
    rig.reinsert()
    (outcome,) = rig.terminal.reconcile()
    assert outcome.action == "voided"
    assert rig.terminal.journal.entry(raised.value.txn_id).status is TxnStatus.VOIDED
    assert _balances(rig)[Purse.CONSUMPTION] == 300


class _PullAfterAuthorisation:
    """The holder pulls the card while the terminal is online."""

    def __init__(self, rig: Rig) -> None:
        self._rig = rig

    def __getattr__(self, name):
        return getattr(self._rig.link, name)

    def authorise(self, request, *, card_id, method):
        answer = self._rig.link.authorise(request, card_id=card_id, method=method)
        CardFaults(self._rig.card).pull()
        return answer


def test_a_payment_cut_before_its_final_cryptogram_is_voided(rig: Rig, tmp_path) -> None:
    from host.pos.journal import Journal

    from .conftest import MERCHANT, make_terminal

    terminal = make_terminal(rig.card, _PullAfterAuthorisation(rig), Journal(
        tmp_path / "pulled.sqlite3", terminal_id=MERCHANT.terminal_hex), rig.clock)
    with pytest.raises(TransactionInterruptedError) as raised:
        terminal.purchase(42_00, pin=PIN)
    assert raised.value.stage == "payment"
    assert terminal.journal.entry(raised.value.txn_id).status is TxnStatus.INCOMPLETE
    outcomes = reconcile(terminal.ctx, None)  # no card needed: nothing was charged
    assert [o.action for o in outcomes] == ["voided"]
    assert terminal.journal.entry(raised.value.txn_id).status is TxnStatus.VOIDED
    assert terminal.journal.unbatched_records() == 0


def test_a_pending_movement_waits_for_its_own_card(rig: Rig) -> None:
    CardFaults(rig.card).mute(chip=2, ins=CREDIT_FOR_LOAD)
    with pytest.raises(TransactionInterruptedError):
        rig.terminal.purchase(10_00, pin=PIN)
    (outcome,) = reconcile(rig.terminal.ctx, None)
    assert outcome.action == "waiting" and SAMPLE.identity in outcome.detail
    assert len(rig.terminal.journal.pending()) == 1


def _wedge() -> str:
    tracks = encode_stripe(SAMPLE.debit, SAMPLE.payment_keys)
    return "".join(t[: t.index("?") + 1] for t in (tracks.track1, tracks.track2))


def test_a_redemption_refused_online_is_sent_again_once_the_points_cleared(rig: Rig) -> None:
    CardFaults(rig.card).force_sw(chip=1, ins=SELECT, sw=0x6F00)
    sale = rig.terminal.purchase(300_00, pin=PIN, swipe=_wedge())
    assert sale.fallback and [m.points for m in sale.points] == [300]
    with pytest.raises(BackOfficeError):  # the ledger has not cleared the points yet
        rig.terminal.convert_points(100, purse=Purse.CONSUMPTION)
    (entry,) = [e for e in rig.terminal.journal.entries() if e.kind.value == "conversion"]
    assert (entry.status, entry.stage) == (TxnStatus.INCOMPLETE, "redeem pending")
    assert _balances(rig)[Purse.CONSUMPTION] == 200  # the card has already paid

    (receipt,) = rig.terminal.upload()  # the stripe sale's load: no chip payment in it
    assert receipt.status == "created"
    (outcome,) = rig.terminal.reconcile()
    assert outcome.action == "redeemed"
    entry = rig.terminal.journal.entry(entry.txn_id)
    assert entry.status is TxnStatus.APPROVED and entry.summary["redemption"]["fen"] == 100
    assert rig.office.balance("zhang:cny").posted == 100
