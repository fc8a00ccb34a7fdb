"""Every message type the service serves, through a real socket on loopback, and the POS
sale flow with the network link: approved, declined, referred, and an ARPC the card
refuses when the host that answers is not the issuer."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import pytest

from apdu_specs.commands.purse_data import Purse
from host.payment.issuer import Decision
from host.pos import ARPCRejectedError, Journal, Terminal, TxnStatus
from host.pos.link import PaymentMethod
from host.pos.network_link import NetworkLink, ServiceRefusedError
from host.service.core import Connection, ServiceCore
from host.service.iso8583 import MTI, NetworkCode, ResponseCode
from host.service.mac import sign, verify
from host.service.messages import Envelope, authorisation_request, network_request
from host.service.tcp_server import ISOServer, serve_in_thread
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, PIN, Clock, make_link, make_terminal

from .conftest import Host, answer_of, arqc_request, utc_now

pytestmark = pytest.mark.sim


def _terminal(host: Host, sim_card: Any, tmp_path: Path, link: NetworkLink) -> Terminal:
    journal = Journal(tmp_path / "journal.sqlite3", terminal_id=MERCHANT.terminal_hex)
    return make_terminal(sim_card, link, journal, Clock())


def _envelope(stan: int) -> Envelope:
    return Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, stan, utc_now())


# -- network management (0800 / 0810) ---------------------------------------------------------


def test_sign_on_echo_and_sign_off_are_answered_with_the_terminals_mac(host: Host) -> None:
    with host.link() as link:
        link.sign_on()
        link.echo()
        link.sign_off()
    raw = host.exchange(sign(network_request(NetworkCode.ECHO, _envelope(900)), host.terminal.key))
    reply = answer_of(raw)
    assert (reply["t"], reply["39"], reply["70"], reply["11"]) == ("0810", "00", "301", "000900")
    assert raw is not None and verify(raw, reply, host.terminal.key)


def test_a_network_code_the_alliance_does_not_serve_is_answered_12(host: Host) -> None:
    message = {**network_request(NetworkCode.ECHO, _envelope(901)), "70": "161"}  # key change
    reply = answer_of(host.exchange(sign(message, host.terminal.key)))
    assert reply["39"] == ResponseCode.INVALID_TRANSACTION


# -- authorisation (0100 / 0101 / 0110) --------------------------------------------------------


def test_an_authorisation_is_answered_and_recorded_for_the_authenticated_terminal(
        host: Host, card: Any) -> None:
    chip, request = arqc_request(card, 123_45)
    with host.link() as link:
        answer = link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    assert answer.response.decision is Decision.APPROVE and answer.response.arc == b"00"
    assert chip.complete_online(answer.response).issuer_authenticated
    [row] = host.authorisations()
    assert (row.arqc, row.amount, row.decision) == (request.arqc, 123_45, "approve")
    assert (row.terminal_id, row.merchant_id, row.card_id) == (MERCHANT.terminal_hex, "shop-a",
                                                               SAMPLE.identity)


def test_a_repeat_gets_the_original_answer_and_nothing_is_done_again(host: Host,
                                                                     card: Any) -> None:
    _, request = arqc_request(card, 50_00, PaymentMethod.CREDIT)
    message = authorisation_request(request, card_id=SAMPLE.identity, method=PaymentMethod.CREDIT,
                                    envelope=_envelope(902), cdol1=host_cdol1(host))
    first = host.exchange(sign(message, host.terminal.key))
    again = host.exchange(sign({**message, "t": MTI.AUTHORISATION_REPEAT}, host.terminal.key))
    assert first == again and answer_of(first)["39"] == ResponseCode.APPROVED
    assert len(host.authorisations()) == 1
    other = {**message, "t": MTI.AUTHORISATION_REPEAT, "4": "000000000001"}
    assert answer_of(host.exchange(sign(other, host.terminal.key)))["39"] == ResponseCode.DUPLICATE
    assert len(host.authorisations()) == 1


def test_a_repeat_of_an_unseen_request_is_answered_as_the_original(host: Host,
                                                                   card: Any) -> None:
    _, request = arqc_request(card, 10_00)
    message = authorisation_request(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT,
                                    envelope=_envelope(903), cdol1=host_cdol1(host))
    repeat = sign({**message, "t": MTI.AUTHORISATION_REPEAT}, host.terminal.key)
    assert answer_of(host.exchange(repeat))["39"] == ResponseCode.APPROVED
    assert len(host.authorisations()) == 1


def test_a_repeat_of_a_refused_request_is_refused_again_and_nothing_recorded(
        host: Host, card: Any) -> None:
    _, request = arqc_request(card, 10_00)
    message = {**authorisation_request(request, card_id=SAMPLE.identity,
                                       method=PaymentMethod.DEBIT, envelope=_envelope(904),
                                       cdol1=host_cdol1(host)), "4": "000000000001"}
    for mti in (MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT):
        reply = answer_of(host.exchange(sign({**message, "t": mti}, host.terminal.key)))
        assert reply["39"] == ResponseCode.INVALID_AMOUNT
    assert host.authorisations() == []


def host_cdol1(host: Host) -> bytes:
    return host.core.services.link(MERCHANT.terminal_hex).issuer.cdol1


# -- the sale at the terminal, over the network link ------------------------------------------


def test_a_sale_through_the_network_link_is_approved_and_earns_points(
        host: Host, sim_card: Any, tmp_path: Path) -> None:
    points = make_link(host.office)  # points and uploads are not over ISO 8583 yet
    with host.link(others=points) as link:
        terminal = _terminal(host, sim_card, tmp_path, link)
        sale = terminal.purchase(123_45, pin=PIN, method=PaymentMethod.DEBIT)
        terminal.journal.close()
    assert sale.approved and sale.arc == b"00" and sale.message == "approved online"
    assert {m.purse: m.points for m in sale.points} == {Purse.CONSUMPTION: 123, Purse.BANK: 61}
    [row] = host.authorisations()
    assert row.terminal_id == MERCHANT.terminal_hex and row.decision == "approve"


@pytest.mark.parametrize(("amount", "status", "arc"), [
    (25_000_00, TxnStatus.DECLINED, b"05"), (15_000_00, TxnStatus.REFERRAL, b"01")])
def test_declines_and_referrals_reach_the_card_through_the_network_link(
        host: Host, sim_card: Any, tmp_path: Path, amount: int, status: TxnStatus,
        arc: bytes) -> None:
    with host.link() as link:
        terminal = _terminal(host, sim_card, tmp_path, link)
        sale = terminal.purchase(amount, pin=PIN, method=PaymentMethod.CREDIT, earn=False)
        terminal.journal.close()
    assert sale.status is status and sale.arc == arc and sale.points == []
    assert [r.decision for r in host.authorisations()] == [Decision(
        {b"05": "decline", b"01": "referral"}[arc]).value]


@dataclasses.dataclass
class _RogueLink:
    """Answers as the issuer would, but with issuer authentication data of its own making:
    a host that holds the terminal's MAC key but not the issuer's keys."""

    inner: Any

    @property
    def issuer(self) -> Any:
        return self.inner.issuer

    def authorise_recorded(self, request: Any, **kwargs: Any) -> Any:
        answer, record = self.inner.authorise_recorded(request, **kwargs)
        forged = dataclasses.replace(answer.response, issuer_authentication_data=bytes(8))
        return dataclasses.replace(answer, response=forged), record


@dataclasses.dataclass
class _RogueServices:
    inner: Any

    def __getattr__(self, name: str) -> Any:  # db, office, bank_id: the inner services'
        return getattr(self.inner, name)

    def link(self, terminal_id: str) -> _RogueLink:
        return _RogueLink(self.inner.link(terminal_id))


def test_the_card_checks_the_arpc_that_came_over_the_network(host: Host, sim_card: Any,
                                                             tmp_path: Path) -> None:
    rogue = ServiceCore(_RogueServices(host.core.services))  # type: ignore[arg-type]
    with serve_in_thread(ISOServer(rogue)) as address, \
            NetworkLink(*address, merchant=MERCHANT, key=host.terminal.key) as link:
        terminal = _terminal(host, sim_card, tmp_path, link)
        with pytest.raises(ARPCRejectedError):
            terminal.purchase(20_00, pin=PIN, method=PaymentMethod.DEBIT, earn=False)
        [entry] = terminal.journal.entries()
        terminal.journal.close()
    assert entry.status is TxnStatus.DECLINED


# -- retries --------------------------------------------------------------------------------


class _GatedCore(ServiceCore):
    """Lets ``gate`` open once a repeat (0101) reaches the service: it waits for the
    original's transaction, then finds the STAN held by the same request."""

    def __init__(self, *args: Any, gate: threading.Event, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = gate

    def connection(self, peer: str = "", *, certified: str | None = None) -> Connection:
        return _GatedConnection(self, peer, certified)


class _GatedConnection(Connection):
    core: _GatedCore

    def handle(self, raw: bytes) -> bytes | None:
        if raw[:4] == MTI.AUTHORISATION_REPEAT.encode():
            self.core.gate.set()
        return super().handle(raw)


@dataclasses.dataclass
class _SlowLink:
    inner: Any
    gate: threading.Event

    @property
    def issuer(self) -> Any:
        return self.inner.issuer

    def authorise_recorded(self, request: Any, **kwargs: Any) -> Any:
        assert self.gate.wait(30), "the repeat never came"
        return self.inner.authorise_recorded(request, **kwargs)


@dataclasses.dataclass
class _SlowServices(_RogueServices):
    gate: threading.Event = dataclasses.field(default_factory=threading.Event)

    def link(self, terminal_id: str) -> _SlowLink:  # type: ignore[override]
        return _SlowLink(self.inner.link(terminal_id), self.gate)


def test_a_request_not_answered_in_time_is_repeated_with_its_stan_and_answered_once(
        host: Host, card: Any) -> None:
    gate = threading.Event()
    slow = _GatedCore(_SlowServices(host.core.services, gate),  # type: ignore[arg-type]
                      gate=gate)
    chip, request = arqc_request(card, 30_00)
    with serve_in_thread(ISOServer(slow, workers=2)) as address, \
            NetworkLink(*address, merchant=MERCHANT, key=host.terminal.key, timeout=0.2,
                        attempts=12) as link:
        answer = link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    assert answer.response.approved and chip.complete_online(answer.response).issuer_authenticated
    assert len(host.authorisations()) == 1


def test_refusals_reach_the_terminal_as_typed_errors(host: Host, card: Any) -> None:
    _, request = arqc_request(card, 10_00)
    with host.link() as link:
        link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
        with pytest.raises(ServiceRefusedError, match="94 duplicate") as refused:
            link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    assert refused.value.authenticated and refused.value.code == "94"
