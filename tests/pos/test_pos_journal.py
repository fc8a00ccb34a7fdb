"""The terminal journal: steps on disk before the holder hears the outcome, batches in the
back office's format, uploads that are safe to repeat."""

from __future__ import annotations

import pytest

from apdu_specs.commands.purse_data import Purse
from host.backoffice import Agreement, Asset, Rounding
from host.backoffice.errors import BatchRejectedError
from host.backoffice.records import BATCH_FORMAT, parse_batch
from host.payment.stripe import encode_stripe
from host.pos import (
    JournalError,
    PaymentMethod,
    TransactionInterruptedError,
    TxnKind,
    TxnStatus,
)
from host.pos.journal import Journal
from host.pos.pending import pending_from_dict, pending_to_dict
from host.testing.faults import CardFaults
from host.testing.personalise import SAMPLE

from .conftest import MERCHANT, PIN, Rig

CREDIT_FOR_LOAD = 0x52


def _wedge() -> str:
    tracks = encode_stripe(SAMPLE.debit, SAMPLE.payment_keys)
    return "".join(t[: t.index("?") + 1] for t in (tracks.track1, tracks.track2))


def _stripe_sale(rig: Rig, amount: int):
    CardFaults(rig.card).force_sw(chip=1, ins=0xA4, sw=0x6F00)
    return rig.terminal.purchase(amount, pin=PIN, swipe=_wedge())


def test_the_payment_and_the_pending_load_are_on_disk_before_the_card_credits(rig: Rig) -> None:
    seen: list[tuple[str, list[str]]] = []
    chip2 = rig.terminal.card.chip2
    original = chip2.transmit

    def spy(apdu: bytes) -> bytes:
        if apdu[1] == CREDIT_FOR_LOAD:  # read the file through a second connection
            other = Journal(rig.journal_path, terminal_id=MERCHANT.terminal_hex)
            (entry,) = other.entries()
            seen.append((entry.status.value, [p.slot for p in other.pending()]))
            other.close()
        return original(apdu)

    chip2.transmit = spy  # type: ignore[method-assign]
    sale = rig.terminal.purchase(66_00, pin=PIN, method=PaymentMethod.DEBIT)
    assert seen == [("approved", ["load-consumption"]), ("approved", ["load-bank"])]
    reopened = Journal(rig.journal_path, terminal_id=MERCHANT.terminal_hex)
    entry = reopened.entry(sale.txn_id)
    assert (entry.status, entry.stage, entry.kind) == (TxnStatus.APPROVED, "done", TxnKind.SALE)
    assert [p["points"] for p in entry.summary["points"]] == [66, 33]
    assert reopened.pending() == []
    reopened.close()


def test_a_journal_belongs_to_one_terminal(tmp_path) -> None:
    Journal(tmp_path / "j.sqlite3", terminal_id="0000000A0001").close()
    with pytest.raises(JournalError, match="journal of terminal 0000000A0001"):
        Journal(tmp_path / "j.sqlite3", terminal_id="0000000B0001")
    with pytest.raises(JournalError):
        Journal(tmp_path / "no" / "such" / "dir.sqlite3", terminal_id="0000000A0001")


def test_pending_movements_survive_as_json(rig: Rig) -> None:
    CardFaults(rig.card).mute(chip=2, ins=CREDIT_FOR_LOAD)
    with pytest.raises(TransactionInterruptedError):
        rig.terminal.purchase(10_00, pin=PIN)
    (pending,) = rig.terminal.journal.pending()
    movement = pending_from_dict(pending.body)
    assert pending_to_dict(movement) == {k: v for k, v in pending.body.items() if k != "context"}
    with pytest.raises(JournalError):
        pending_from_dict({"kind": "load", "init": {}})
    with pytest.raises(JournalError):
        pending_from_dict({"kind": "teleport"})


def test_a_batch_is_in_the_back_offices_format_and_uploads_once(rig: Rig) -> None:
    _stripe_sale(rig, 250_00)
    spend = rig.terminal.spend_points(50)
    assert spend.approved
    batch_id = rig.terminal.journal.close_batch(rig.clock.now)
    assert batch_id == "0000000A0001-B00001"
    assert rig.terminal.journal.close_batch(rig.clock.now) is None  # nothing new
    batch = rig.terminal.journal.batch(batch_id)
    assert parse_batch(batch.as_dict()) == batch and batch.as_dict()["format"] == BATCH_FORMAT
    assert [r.kind for r in batch.records] == ["load", "purchase"]

    (first,) = rig.terminal.upload()
    again = rig.terminal.upload_batch(batch_id)
    third = rig.terminal.upload_batch(batch_id)
    assert (first.status, again.status, third.status) == ("created", "exists", "exists")
    assert first.summary["redeemed"] == 50 and dict(first.summary["earned"]) == {
        "consumption_points": 250}
    assert rig.office.balance("zhang:consumption_points").posted == 200
    assert rig.terminal.upload() == []  # everything accepted: nothing to send
    (entry,) = rig.terminal.journal.batches(uploaded=True)
    assert entry.status == "exists" and entry.receipt is not None


def test_a_rejected_batch_is_marked_and_raised(rig: Rig) -> None:
    _stripe_sale(rig, 10_00)
    # the merchant's agreement changes after the terminal computed the points
    rig.office.add_agreement(Agreement("shop-a-double", "shop-a", "standard",
                                       Asset.CONSUMPTION_POINTS, 2, 100, Rounding.DOWN,
                                       rig.clock.now.replace(hour=8)), at=rig.clock.now)
    with pytest.raises(BatchRejectedError):
        rig.terminal.upload()
    (entry,) = rig.terminal.journal.batches()
    assert entry.status == "rejected" and "points_differ" in str(entry.receipt)


def test_chip_sales_clear_with_their_cryptograms(rig: Rig) -> None:
    rig.terminal.purchase(100_00, pin=PIN, method=PaymentMethod.DEBIT)
    rig.terminal.purchase(200_00, pin=PIN, method=PaymentMethod.CREDIT)
    (receipt,) = rig.terminal.upload()
    assert receipt.status == "created" and receipt.summary["payments_fen"] == 300_00
    assert rig.office.balance("zhang:credit_points").posted == 200
    assert rig.terminal.card.points.balances()[Purse.BANK] == 50
