"""The POS over the network: a terminal whose only link to the alliance is a NetworkLink to
a real service on 127.0.0.1 (authorisations over ISO 8583, everything else over HTTP), on
SQLite and PostgreSQL. The main flows of tests/pos — a sale earning on two purses, a credit
sale, a stripe sale, points spent at the merchant, converted and paying a premium, uploads
— and the hostile terminal's tricks of tests/trust that a terminal can try over the wire."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.payment.ac_type import ACType
from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.prepaid import PrepaidOffice, Program, ProgramKind
from host.payment.stripe import encode_stripe
from host.payment.terminal import TransactionData
from host.pos import Journal, PaymentMethod, Terminal, TxnKind, parse_slip
from host.pos.batch import payment_record
from host.pos.chip_payment import ChipPayment
from host.pos.network_link import BackOfficeRefusedError, HTTPRefusedError, NetworkLink
from host.pos.points_hosts import LinkLoadHost
from host.records.batch import SaleClaim, TerminalBatch
from host.records.errors import BatchRejectedError
from host.testing.faults import CardFaults
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, PIN, START, TID, Clock, make_terminal

from .conftest import Host

pytestmark = pytest.mark.sim

SHOP_B = "0000000B0001"


@dataclasses.dataclass
class NetRig:
    """A terminal over the network, its card, the service behind it."""

    terminal: Terminal
    card: Any
    host: Host
    link: NetworkLink
    clock: Clock


@pytest.fixture
def net(service: Host, sim_card: Any, tmp_path: Path) -> Iterator[NetRig]:
    link = service.link()
    clock = Clock()
    journal = Journal(tmp_path / "journal.sqlite3", terminal_id=MERCHANT.terminal_hex)
    terminal = make_terminal(sim_card, link, journal, clock)
    try:
        yield NetRig(terminal, sim_card, service, link, clock)
    finally:
        journal.close()
        link.close()


def _earn_by_stripe(net: NetRig, amount: int) -> None:
    tracks = encode_stripe(SAMPLE.debit, SAMPLE.payment_keys)
    CardFaults(net.card).force_sw(chip=1, ins=0xA4, sw=0x6F00)
    sale = net.terminal.purchase(amount, pin=PIN,
                                 swipe=tracks.track2[: tracks.track2.index("?") + 1])
    assert sale.approved and sale.message == "approved online (stripe)"
    net.terminal.upload()


# -- the main flows ------------------------------------------------------------------------


def test_a_debit_sale_earns_on_two_purses_and_its_upload_clears(net: NetRig) -> None:
    sale = net.terminal.purchase(123_45, pin=PIN, method=PaymentMethod.DEBIT)
    assert sale.approved and sale.arc == b"00" and sale.message == "approved online"
    assert [(m.purse, m.points, m.issuer_id) for m in sale.points] == [
        (Purse.CONSUMPTION, 123, "shop-a"), (Purse.BANK, 61, "bank")]
    assert net.terminal.card.points.balances() == {Purse.CONSUMPTION: 123, Purse.BANK: 61,
                                                   Purse.CREDIT: 0}
    [receipt] = net.terminal.upload()
    assert receipt.status == "created" and receipt.summary["records"] == 3
    assert net.terminal.upload_batch(receipt.batch_id).status == "exists"  # harmless again
    assert net.link.http is not None
    assert net.link.http.balances(SAMPLE.identity) == {Purse.CONSUMPTION: 123, Purse.BANK: 61,
                                                       Purse.CREDIT: 0}
    status = net.link.http.batch_status(receipt.batch_id)
    assert status is not None and status["status"] == "cleared"
    assert status["summary"]["records"] == 3
    assert net.link.http.batch_status("no-such-batch") is None


def test_a_credit_sale_earns_credit_points(net: NetRig) -> None:
    sale = net.terminal.purchase(50_00, pin=PIN, method=PaymentMethod.CREDIT)
    assert sale.approved
    assert {m.purse: m.points for m in sale.points} == {Purse.CONSUMPTION: 50, Purse.CREDIT: 50}


def test_a_stripe_sale_is_authorised_over_http_and_earns(net: NetRig) -> None:
    _earn_by_stripe(net, 200_00)
    assert net.terminal.card.points.balance(Purse.CONSUMPTION) == 200
    [row] = net.host.authorisations()
    assert (row.kind, row.terminal_id, row.merchant_id) == ("stripe", MERCHANT.terminal_hex,
                                                            "shop-a")


def test_points_spent_at_the_merchant_then_uploaded(net: NetRig) -> None:
    net.terminal.purchase(150_00, pin=PIN, method=PaymentMethod.DEBIT)
    result = net.terminal.spend_points(40)
    assert result.approved and result.kind is TxnKind.POINTS
    assert result.movement is not None and result.movement.balance_after == 110
    [receipt] = net.terminal.upload()
    assert receipt.status == "created" and receipt.summary["redeemed"] == 40


def test_points_converted_into_money_and_paying_a_premium(net: NetRig) -> None:
    _earn_by_stripe(net, 500_00)
    converted = net.terminal.convert_points(60, purse=Purse.CONSUMPTION)
    assert converted.approved and converted.redemption is not None
    assert converted.redemption.status == "created" and converted.redemption.fen == 60
    premium = net.terminal.pay_premium(300, insurer_id="insurer", policy="POL-1",
                                       purse=Purse.CONSUMPTION)
    assert premium.approved and premium.redemption is not None
    office = net.host.office
    assert office.balance("zhang:cny").posted == 60
    assert office.balance("insurer:cny").posted == 300
    assert office.balance("zhang:consumption_points").posted == 500 - 60 - 300


def test_the_issuers_scripts_are_confirmed_by_an_advice(net: NetRig) -> None:
    delivered: list[str] = []
    office = net.host.core.services.link(MERCHANT.terminal_hex).office
    marking = office.mark_delivered
    office.mark_delivered = lambda script_id, *, at: delivered.append(script_id) or True  # type: ignore[method-assign]
    try:
        net.link.scripts_delivered(["limit/test/1"], at=START)
    finally:
        office.mark_delivered = marking  # type: ignore[method-assign]
    assert delivered == ["limit/test/1"]


# -- the hostile terminal, over the wire ---------------------------------------------------


def _chip(net: NetRig, amount: int, method: PaymentMethod) -> ChipPayment:
    chip = ChipPayment(net.terminal.card.payment, net.terminal.ctx.profile,
                       TransactionData(amount, bytes.fromhex("0BADF00D"), START.date()))
    chip.open(method=method)
    chip.verify_pin(PIN)
    chip.first_ac(ACType.ARQC)
    return chip


def _online_sale(net: NetRig, amount: int, method: PaymentMethod) -> SaleClaim:
    chip = _chip(net, amount, method)
    answer = net.link.authorise(chip.authorisation_request(), card_id=SAMPLE.identity,
                                method=method)
    second = chip.complete_online(answer.response).second
    first = chip.first
    assert first is not None and chip.options is not None
    return SaleClaim(payment=payment_record(
        "HOSTILE", SAMPLE.identity, method, amount, first.atc, first.cryptogram,
        chip.cdol1_data, chip.options.aip, first.iad, START.strftime("%Y%m%d"), "090000",
        final=second, cdol2_data=chip.cdol2_data))


def _load(net: NetRig, purse: Purse, points: int, sale: SaleClaim) -> Any:
    return net.terminal.card.points.load(purse, points, LinkLoadHost(net.link, sale=sale),
                                         terminal_id=TID, when=START.replace(tzinfo=None))


@pytest.mark.parametrize("purse", [Purse.BANK, Purse.CONSUMPTION])
def test_points_from_nothing_are_refused(net: NetRig, purse: Purse) -> None:
    with pytest.raises(BackOfficeRefusedError, match="load_without_sale") as refused:
        _load(net, purse, 50_000, SaleClaim())
    assert refused.value.kind == "LoadRefusedError"
    with pytest.raises(BackOfficeRefusedError, match="no_issuer_approval"):
        _load(net, purse, 50_000, SaleClaim(authorisation_id="auth-stripe-0123456789abcdef"))
    assert net.terminal.card.points.balances()[purse] == 0


def test_a_sale_is_rewarded_once_and_no_more_than_agreed(net: NetRig) -> None:
    sale = net.terminal.purchase(123_45, pin=PIN, method=PaymentMethod.DEBIT)
    assert sale.approved and sale.proof is not None
    with pytest.raises(BackOfficeRefusedError, match="already rewarded"):
        _load(net, Purse.BANK, 61, sale.proof)
    with pytest.raises(BackOfficeRefusedError, match="earns 100 consumption_points"):
        _load(net, Purse.CONSUMPTION, 101, _online_sale(net, 100_00, PaymentMethod.DEBIT))


def test_a_batch_naming_another_terminal_is_refused_and_posts_nothing(net: NetRig) -> None:
    at = START + dt.timedelta(hours=1)
    net.host.office.add_members([Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                        two_way=Ratio(1, 10), terminals=(SHOP_B,))], at=at)
    net.terminal.purchase(500_00, pin=PIN, method=PaymentMethod.DEBIT)
    batch_id = net.terminal.journal.close_batch(at)
    assert batch_id is not None
    mine = net.terminal.journal.batch(batch_id)
    with pytest.raises(HTTPRefusedError) as refused:  # A's key, B's batch: not A's to send
        net.link.upload(TerminalBatch("B-1", SHOP_B, mine.records), at=at)
    assert (refused.value.status, refused.value.code) == (403, "other_terminal")
    assert net.link.http is not None and net.link.http.batch_status("B-1") is None
    assert net.link.upload(mine, at=at).status == "created"


def test_a_redemption_is_paid_by_one_card_debit_once(net: NetRig) -> None:
    net.terminal.purchase(800_00, pin=PIN, method=PaymentMethod.DEBIT)
    net.terminal.upload()
    spent = net.terminal.spend_points(200)
    assert spent.approved and spent.debit is not None
    debit = spent.debit

    def convert(debit: Any, points: int | None = None) -> Any:
        return net.link.redeem(redemption_id="R-1", card_id=SAMPLE.identity,
                               purse=Purse.CONSUMPTION,
                               points=debit.amount if points is None else points,
                               at=START + dt.timedelta(hours=2), debit=debit)

    with pytest.raises(BackOfficeRefusedError, match="debit_differs_from_request"):
        convert(debit, points=500)
    with pytest.raises(BackOfficeRefusedError, match="bad_tac"):
        convert(dataclasses.replace(debit, tac=bytes(4)))
    first, again = convert(debit), convert(debit)
    assert (first.status, again.status) == ("created", "exists")
    at = START + dt.timedelta(hours=3)
    batch_id = net.terminal.journal.close_batch(at)
    assert batch_id is not None
    refused_batch = net.terminal.journal.batch(batch_id)
    with pytest.raises(BatchRejectedError) as refused:
        net.link.upload(refused_batch, at=at)
    assert {r.reason for r in refused.value.rejections} == {"debit_already_redeemed"}
    assert net.link.http is not None
    status = net.link.http.batch_status(batch_id)
    assert status == {"batch_id": batch_id, "status": "rejected", "rejections": [
        {"record": r.record_id, "reason": r.reason} for r in refused.value.rejections]}
    # a refusal of a batch under another terminal's name is not this terminal's to see
    net.host.office.add_members([Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                        two_way=Ratio(1, 10), terminals=(SHOP_B,))], at=at)
    with pytest.raises(BatchRejectedError):
        net.host.office.clear(TerminalBatch("B-9", SHOP_B, refused_batch.records), at=at)
    assert net.link.http.batch_status("B-9") is None


def _tea_club(host: Host) -> str:
    """Zhang's prepaid account of SHOP A's tea club: 7,000.00 over two cards."""
    prepaid = PrepaidOffice(host.office.db)
    prepaid.add_program(Program("tea-club", "shop-a", ProgramKind.BONUS, 500_000, "insurer"),
                        at=START)
    return str(prepaid.issue("club-1", "tea-club", "zhang", 700_000, at=START)["account"])


def test_a_prepaid_payment_at_the_till_goes_through_the_http_door(net: NetRig) -> None:
    account = _tea_club(net.host)
    paid = net.terminal.pay_prepaid(550_000, pin=PIN)
    assert paid["status"] == "approved" and paid["pin"] == "verified"
    assert paid["prepaid"] == {"payment": f"pos-{MERCHANT.terminal_hex}-{paid['txn_id']}",
                               "account": account, "charged": 550_000, "cards": 2,
                               "balance": 150_000}
    slip = parse_slip(net.terminal.receipt(paid["txn_id"]))
    assert (slip.kind, slip.amount, slip.prepaid) == ("PREPAID", 550_000,
                                                      f"{account} BAL CNY 1,500.00")
    assert PrepaidOffice(net.host.office.db).balance(account)["balance"] == 150_000


def test_a_wrong_pin_never_reaches_the_prepaid_account(net: NetRig) -> None:
    account = _tea_club(net.host)
    declined = net.terminal.pay_prepaid(100, pin="0000")
    assert declined["status"] == "declined" and declined["pin"] == "wrong"
    assert "prepaid" not in declined
    assert net.terminal.pay_prepaid(100, pin=PIN)["status"] == "approved"  # tries reset
    with pytest.raises(BackOfficeRefusedError) as refused:
        net.terminal.pay_prepaid(800_000, pin=PIN)
    assert "value" in str(refused.value)
    entry = net.terminal.journal.entries()[-1]
    assert entry.kind is TxnKind.PREPAID and entry.status.value == "declined"
    assert PrepaidOffice(net.host.office.db).balance(account)["balance"] == 699_900
