"""Hostile terminals at the service's front door, through a real socket: each trick is
answered with a response code, and nothing reaches the issuer's records.

The trust boundary is the front door (docs/trust.md): a message speaks for the terminal
its DE 41 names only if that terminal's key made its MAC; it speaks for that terminal's
merchant only; it is acted on once; and the issuer still holds the amount to what the
card's cryptogram covers.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from typing import Any

import pytest

from apdu_specs.tlv import TLV, encode_tlvs, parse_tlvs
from host.backoffice import Member, MemberKind, Ratio
from host.pos.link import PaymentMethod
from host.pos.network_link import AnswerNotAuthenticatedError, NetworkLink, ServiceRefusedError
from host.service.core import ServiceCore
from host.service.iso8583 import Message, NetworkCode, ResponseCode, encode, frame_length
from host.service.mac import sign, verify
from host.service.messages import (
    Envelope,
    authorisation_request,
    network_request,
    transmission_time,
)
from host.service.terminals import register_terminal
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, START

from .conftest import Host, answer_of, arqc_request, utc_now

pytestmark = pytest.mark.sim

SHOP_B = "0000000B0001"


def _request(host: Host, card: Any, stan: int, amount: int = 10_00, *,
             terminal: str = MERCHANT.terminal_hex, merchant: str = "shop-a",
             sent_at: dt.datetime | None = None) -> Message:
    _, request = arqc_request(card, amount)
    envelope = Envelope(terminal, merchant, stan, sent_at or utc_now())
    cdol1 = host.core.services.link(MERCHANT.terminal_hex).issuer.cdol1
    return authorisation_request(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT,
                                 envelope=envelope, cdol1=cdol1)


def _refused(host: Host, raw: bytes, code: ResponseCode, *, mac_key: bytes | None) -> None:
    """``raw`` is answered ``code`` (with a MAC by ``mac_key``, or none), nothing recorded."""
    before = len(host.authorisations())
    answer = host.exchange(raw)
    reply = answer_of(answer)
    assert reply["39"] == code
    assert answer is not None
    if mac_key is None:
        assert "64" not in reply and "128" not in reply
    else:
        assert verify(answer, reply, mac_key)
    assert len(host.authorisations()) == before


def _shop_b(host: Host) -> bytes:
    """A second merchant with its own keyed terminal; its key."""
    host.office.add_member(Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                  two_way=Ratio(1, 10), terminals=(SHOP_B,)), at=START)
    return register_terminal(host.office.db, SHOP_B, at=START).key


def test_a_wrong_mac_is_refused_63_without_a_mac(host: Host, card: Any) -> None:
    _refused(host, sign(_request(host, card, 1), bytes(16)), ResponseCode.SECURITY_VIOLATION,
             mac_key=None)


def test_a_message_without_its_mac_is_a_format_error(host: Host, card: Any) -> None:
    _refused(host, encode(_request(host, card, 2)), ResponseCode.FORMAT_ERROR, mac_key=None)


def test_a_terminal_cannot_speak_as_another(host: Host, card: Any) -> None:
    _shop_b(host)
    # SHOP A's terminal names SHOP B's and MACs with its own key
    as_b = _request(host, card, 3, terminal=SHOP_B, merchant="shop-b")
    _refused(host, sign(as_b, host.terminal.key), ResponseCode.SECURITY_VIOLATION, mac_key=None)


def test_a_terminal_cannot_speak_for_another_merchant(host: Host, card: Any) -> None:
    _shop_b(host)
    claim = _request(host, card, 4, merchant="shop-b")  # its own terminal, SHOP B's name
    _refused(host, sign(claim, host.terminal.key), ResponseCode.INVALID_MERCHANT,
             mac_key=host.terminal.key)


def test_an_unknown_terminal_is_refused_58(host: Host, card: Any) -> None:
    stranger = _request(host, card, 5, terminal="0000000C0001")
    _refused(host, sign(stranger, host.terminal.key), ResponseCode.TERMINAL_NOT_PERMITTED,
             mac_key=None)


def test_a_connection_serves_the_terminal_that_first_authenticated_on_it(host: Host) -> None:
    key_b = _shop_b(host)
    as_a = network_request(NetworkCode.ECHO, Envelope(MERCHANT.terminal_hex, "shop-a", 14,
                                                      utc_now()))
    as_b = network_request(NetworkCode.ECHO, Envelope(SHOP_B, "shop-b", 14, utc_now()))
    first, second = host.conversation(sign(as_a, host.terminal.key), sign(as_b, key_b))
    assert answer_of(first)["39"] == ResponseCode.APPROVED
    assert answer_of(second)["39"] == ResponseCode.TERMINAL_NOT_PERMITTED
    assert answer_of(host.exchange(sign(as_b, key_b)))["39"] == ResponseCode.APPROVED


def test_a_replayed_request_is_refused_94_and_acted_on_once(host: Host, card: Any) -> None:
    raw = sign(_request(host, card, 6), host.terminal.key)
    assert answer_of(host.exchange(raw))["39"] == ResponseCode.APPROVED
    _refused(host, raw, ResponseCode.DUPLICATE, mac_key=host.terminal.key)
    assert len(host.authorisations()) == 1


def test_another_service_process_refuses_the_replay_too(host: Host, card: Any) -> None:
    """The seen STANs live in the database: a second process (its own core, caches and
    connections) over the same database refuses what the first has seen."""
    raw = sign(_request(host, card, 7), host.terminal.key)
    assert answer_of(host.exchange(raw))["39"] == ResponseCode.APPROVED
    second = ServiceCore(host.core.services).connection("second process")
    reply = answer_of(second.handle(raw))
    assert reply["39"] == ResponseCode.DUPLICATE and len(host.authorisations()) == 1


def test_a_stale_request_is_refused_94(host: Host, card: Any) -> None:
    old = _request(host, card, 8, sent_at=utc_now() - dt.timedelta(minutes=6))
    _refused(host, sign(old, host.terminal.key), ResponseCode.DUPLICATE, mac_key=host.terminal.key)


def test_a_fresh_stan_does_not_get_an_arqc_answered_twice(host: Host, card: Any) -> None:
    message = _request(host, card, 9)
    assert answer_of(host.exchange(sign(message, host.terminal.key)))["39"] == "00"
    again = {**message, "11": "000010", "7": transmission_time(utc_now())}
    _refused(host, sign(again, host.terminal.key), ResponseCode.DUPLICATE,
             mac_key=host.terminal.key)
    assert len(host.authorisations()) == 1


def test_an_amount_other_than_the_cryptograms_is_refused_13(host: Host, card: Any) -> None:
    claim = {**_request(host, card, 11, amount=30_000_00), "4": "000000000100"}
    _refused(host, sign(claim, host.terminal.key), ResponseCode.INVALID_AMOUNT,
             mac_key=host.terminal.key)


def test_covered_data_altered_after_the_card_signed_is_refused_88(host: Host,
                                                                  card: Any) -> None:
    message = _request(host, card, 12, amount=30_000_00)
    objects = [TLV(0x9F02, bytes.fromhex("000000000100")) if o.tag == 0x9F02 else o
               for o in parse_tlvs(message["55"])]
    altered = {**message, "4": "000000000100", "55": encode_tlvs(objects)}
    _refused(host, sign(altered, host.terminal.key), ResponseCode.CRYPTOGRAPHIC_FAILURE,
             mac_key=host.terminal.key)


def test_a_link_with_the_wrong_key_believes_nothing(host: Host, card: Any) -> None:
    _, request = arqc_request(card, 10_00)
    with host.link(key=bytes(16)) as link, pytest.raises(ServiceRefusedError) as refused:
        link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    assert refused.value.code == "63" and not refused.value.authenticated
    assert host.authorisations() == []


def _tampering_proxy(target: tuple[str, int]) -> tuple[socket.socket, threading.Thread]:
    """A man in the middle for one request: it forwards the request and changes the last
    byte of the answer."""
    listener = socket.create_server(("127.0.0.1", 0))

    def relay() -> None:
        with listener, listener.accept()[0] as terminal, \
                socket.create_connection(target) as service:
            service.sendall(_read_frame(terminal))
            answer = _read_frame(service)
            terminal.sendall(answer[:-1] + bytes([answer[-1] ^ 1]))

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    return listener, thread


def _read_frame(sock: socket.socket) -> bytes:
    prefix = sock.recv(2, socket.MSG_WAITALL)
    return prefix + sock.recv(frame_length(prefix), socket.MSG_WAITALL)


def test_an_approval_changed_on_the_wire_is_not_believed(host: Host, card: Any) -> None:
    _, request = arqc_request(card, 10_00)
    listener, relay = _tampering_proxy(host.address)
    address = listener.getsockname()[:2]
    with NetworkLink(*address, merchant=MERCHANT, key=host.terminal.key, timeout=10) as link, \
            pytest.raises(AnswerNotAuthenticatedError):
        link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    relay.join(10)
    assert len(host.authorisations()) == 1  # the issuer answered; the terminal believed nothing
