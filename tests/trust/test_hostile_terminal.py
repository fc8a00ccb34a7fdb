"""A hostile terminal, with a real (simulated) card and the in-process link: every trick of
docs/trust.md is refused with its reason, and nothing moves.

The card-side cases live with the card: the ARPC checked over the bytes received
(tests/payment/test_payment_arpc_tamper.py) and value commands answered 6Cxx
(tests/purse/test_purse_wrong_le.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from apdu_specs.commands.purse_data import Purse
from apdu_specs.payment.ac_type import ACType
from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.authorisations import DuplicateAuthorisationError
from host.backoffice.errors import BatchRejectedError
from host.backoffice.load_authoriser import LoadRefusedError
from host.backoffice.redemptions import RedemptionRefusedError
from host.backoffice.schema import bo_card_records
from host.payment.errors import RequestMismatchError
from host.payment.terminal import TransactionData
from host.pos.batch import payment_record
from host.pos.chip_payment import ChipPayment
from host.pos.link import PaymentMethod
from host.pos.points_hosts import LinkLoadHost
from host.records.batch import SaleClaim, TerminalBatch
from host.testing.personalise import SAMPLE
from tests.pos.conftest import PIN, START, TID, Rig

SHOP_B = "0000000B0001"


def _chip(rig: Rig, amount: int, method: PaymentMethod) -> ChipPayment:
    """Chip 1 of the rig's card, read and PIN-verified, first cryptogram asked (ARQC)."""
    card = rig.terminal.card
    chip = ChipPayment(card.payment, rig.terminal.ctx.profile,
                       TransactionData(amount, bytes.fromhex("0BADF00D"), START.date()))
    chip.open(method=method)
    chip.verify_pin(PIN)
    chip.first_ac(ACType.ARQC)
    return chip


def _record(chip: ChipPayment, method: PaymentMethod, second=None):
    first = chip.first
    assert first is not None and chip.options is not None
    return payment_record("HOSTILE", SAMPLE.identity, method, chip.txn.amount, first.atc,
                          first.cryptogram, chip.cdol1_data, chip.options.aip, first.iad,
                          START.strftime("%Y%m%d"), "090000", final=second,
                          cdol2_data=chip.cdol2_data)


def _online_sale(rig: Rig, amount: int, method: PaymentMethod) -> SaleClaim:
    """A sale the terminal runs itself online, as far as the card's final cryptogram."""
    chip = _chip(rig, amount, method)
    answer = rig.link.authorise(chip.authorisation_request(), card_id=SAMPLE.identity,
                                method=method)
    return SaleClaim(payment=_record(chip, method, chip.complete_online(answer.response).second))


def _load(rig: Rig, purse: Purse, points: int, sale: SaleClaim):
    host = LinkLoadHost(rig.link, sale=sale)
    return rig.terminal.card.points.load(purse, points, host, terminal_id=TID,
                                         when=START.replace(tzinfo=None))


def test_a_declined_sale_earns_nothing(rig: Rig) -> None:
    sale = rig.terminal.purchase(25_000_00, pin=PIN, method=PaymentMethod.CREDIT)
    assert sale.status.value == "declined" and sale.points == []
    # The hostile terminal runs the same sale itself and asks for points anyway.
    chip = _chip(rig, 25_000_00, PaymentMethod.CREDIT)
    answer = rig.link.authorise(chip.authorisation_request(), card_id=SAMPLE.identity,
                                method=PaymentMethod.CREDIT)
    completion = chip.complete_online(answer.response)
    assert completion.second.kind is ACType.AAC
    claim = SaleClaim(payment=_record(chip, PaymentMethod.CREDIT, completion.second))
    with pytest.raises(LoadRefusedError, match="declined_by_card"):
        _load(rig, Purse.CREDIT, 25_000, claim)
    # Nor does a terminal that tells the card "unable to go online" after the decline.
    chip = _chip(rig, 25_000_00, PaymentMethod.CREDIT)
    rig.link.authorise(chip.authorisation_request(), card_id=SAMPLE.identity,
                       method=PaymentMethod.CREDIT)
    second = chip.complete_unable_online()
    with pytest.raises(LoadRefusedError, match=r"declined_by_(card|issuer)"):
        _load(rig, Purse.CREDIT, 25_000, SaleClaim(payment=_record(chip, PaymentMethod.CREDIT,
                                                                   second)))
    assert rig.terminal.card.points.balances()[Purse.CREDIT] == 0


@pytest.mark.parametrize("purse", [Purse.BANK, Purse.CONSUMPTION, Purse.CREDIT])
def test_points_from_nothing_are_refused(rig: Rig, purse: Purse) -> None:
    with pytest.raises(LoadRefusedError, match="load_without_sale"):
        _load(rig, purse, 50_000, SaleClaim())
    with pytest.raises(LoadRefusedError, match="no_issuer_approval"):
        _load(rig, purse, 50_000, SaleClaim(authorisation_id="auth-stripe-0123456789abcdef"))
    assert rig.terminal.card.points.balances()[purse] == 0


def test_a_clear_amount_cannot_bypass_the_issuers_limits(rig: Rig) -> None:
    chip = _chip(rig, 30_000_00, PaymentMethod.CREDIT)
    request = chip.authorisation_request()
    with pytest.raises(RequestMismatchError, match="covers amount 3000000"):
        rig.link.authorise(dataclasses.replace(request, amount=100), card_id=SAMPLE.identity,
                           method=PaymentMethod.CREDIT)
    answer = rig.link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.CREDIT)
    assert not answer.response.approved  # decided on the 30,000.00 the ARQC covers
    with pytest.raises(DuplicateAuthorisationError):  # the same ARQC answered twice: a replay
        rig.link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.CREDIT)


def test_a_sale_is_rewarded_once_and_no_more_than_agreed(rig: Rig) -> None:
    sale = rig.terminal.purchase(123_45, pin=PIN, method=PaymentMethod.DEBIT)
    assert sale.approved and sale.proof is not None
    with pytest.raises(LoadRefusedError, match="already rewarded"):
        _load(rig, Purse.BANK, 61, sale.proof)
    with pytest.raises(LoadRefusedError, match="earns 100 consumption_points"):
        _load(rig, Purse.CONSUMPTION, 101, _online_sale(rig, 100_00, PaymentMethod.DEBIT))
    with pytest.raises(LoadRefusedError, match="bank_points_need_a_debit_card_sale"):
        _load(rig, Purse.BANK, 1, _online_sale(rig, 100_00, PaymentMethod.CREDIT))


def test_one_merchant_cannot_clear_anothers_redemption(rig: Rig) -> None:
    at = START + dt.timedelta(hours=1)
    rig.office.add_members([Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                   two_way=Ratio(1, 10), terminals=(SHOP_B,))], at=at)
    rig.terminal.purchase(500_00, pin=PIN, method=PaymentMethod.DEBIT)
    rig.terminal.upload()
    spent = rig.terminal.spend_points(120)
    assert spent.approved
    batch_id = rig.terminal.journal.close_batch(at)
    assert batch_id is not None
    mine = rig.terminal.journal.batch(batch_id)
    # Merchant B read A's redemption off the card's log and uploads it as its own.
    stolen = TerminalBatch("B-1", SHOP_B, mine.records)
    with pytest.raises(BatchRejectedError) as refused:
        rig.office.clear(stolen, at=at)
    assert {r.reason for r in refused.value.rejections} == {"terminal_differs_from_batch"}
    assert rig.link.upload(mine, at=at).status == "created"  # A's batch still clears
    with rig.office.db.read() as conn:
        row = conn.execute(select(bo_card_records).where(
            bo_card_records.c.record_type == "purchase")).one()
    # The purchase TAC does not cover the card's offline sequence: kept apart, as claimed.
    assert row.card_seq is None and '"card_seq"' in row.claimed


def _debit(rig: Rig, points: int):
    """Points spent at the merchant: the card's debit record, as journaled for the batch."""
    spent = rig.terminal.spend_points(points)
    assert spent.approved and spent.debit is not None
    return spent.debit


def _convert(rig: Rig, debit, points: int | None = None, card_id: str = SAMPLE.identity):
    return rig.link.redeem(redemption_id="R-1", card_id=card_id, purse=Purse.CONSUMPTION,
                           points=debit.amount if points is None else points,
                           at=START + dt.timedelta(hours=2), debit=debit)


def test_a_redemption_is_paid_by_one_card_debit_once(rig: Rig) -> None:
    rig.terminal.purchase(800_00, pin=PIN, method=PaymentMethod.DEBIT)
    rig.terminal.upload()
    debit = _debit(rig, 200)
    with pytest.raises(RedemptionRefusedError, match="debit_differs_from_request"):
        _convert(rig, debit, points=500)  # more than the card gave up
    with pytest.raises(RedemptionRefusedError, match="bad_tac"):
        _convert(rig, dataclasses.replace(debit, tac=bytes(4)))  # no debit at all
    first = _convert(rig, debit)
    again = _convert(rig, debit)  # the same debit sent again pays nothing more
    assert (first.status, again.status) == ("created", "exists")
    assert first.redemption_id == again.redemption_id
    # ...nor is it also cleared as points spent at the merchant.
    at = START + dt.timedelta(hours=3)
    batch_id = rig.terminal.journal.close_batch(at)
    assert batch_id is not None
    with pytest.raises(BatchRejectedError) as refused:
        rig.link.upload(rig.terminal.journal.batch(batch_id), at=at)
    assert {r.reason for r in refused.value.rejections} == {"debit_already_redeemed"}


def test_a_debit_cleared_at_a_merchant_cannot_be_converted(rig: Rig) -> None:
    rig.terminal.purchase(800_00, pin=PIN, method=PaymentMethod.DEBIT)
    debit = _debit(rig, 150)
    rig.terminal.upload()  # the spend clears: the merchant is reimbursed for it
    with pytest.raises(RedemptionRefusedError, match="debit_already_cleared_at_a_merchant"):
        _convert(rig, debit)


def test_an_altered_arpc_is_refused_and_the_terminal_says_so(rig: Rig) -> None:
    """A link (or anyone on the way) that alters tag 91: the card refuses it, the terminal
    sets the TVR's "issuer authentication failed" bit for the second GENERATE AC, and the
    card answers AAC — no sale to reward."""
    chip = _chip(rig, 100_00, PaymentMethod.DEBIT)
    answer = rig.link.authorise(chip.authorisation_request(), card_id=SAMPLE.identity,
                                method=PaymentMethod.DEBIT)
    genuine = answer.response.issuer_authentication_data
    altered = dataclasses.replace(answer.response, issuer_authentication_data=bytes(
        [genuine[0] ^ 0x01]) + genuine[1:])
    completion = chip.complete_online(altered)
    assert completion.issuer_authenticated is False
    assert completion.second.kind is ACType.AAC
    tvr = chip.cdol2_data[2 + len(genuine):2 + len(genuine) + 5]
    assert tvr[4] & 0x40  # TVR byte 5 b7
