"""Malformed messages and frames: the service never crashes. Each one is answered (a
decodable answer with a response code) or its connection is closed, and the service keeps
serving everyone else: a good request still succeeds afterwards.

The handler is fuzzed directly (sans I/O, many examples), then the TCP server with frames
that lie about their length, stop half-way or carry garbage.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import OperationalError

from host.payment.issuer import AuthorisationRequest
from host.payment.perso import CDOL1
from host.pos.link import PaymentMethod
from host.service.core import Connection, ServiceCore
from host.service.iso8583 import MAX_MESSAGE, NetworkCode, decode, frame, response_mti
from host.service.mac import sign, verify
from host.service.messages import Envelope, authorisation_request, network_request
from host.service.replay import ReplayGuard
from host.service.tcp_server import ISOServer, serve_in_thread
from tests.pos.conftest import MERCHANT

from .conftest import Host, answer_of, open_host, utc_now

pytestmark = pytest.mark.sim

_STANS = itertools.count(1)
_FAKE = AuthorisationRequest("6200000000000005", "00", 1, bytes(8), bytes(29), b"\x39\x00",
                             bytes.fromhex("06011203A00000"), 0, 156)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    yield from open_host(directory, f"sqlite:///{directory / 'ledger.sqlite3'}")


def _good(host: Host, *, authorisation: bool = False) -> bytes:
    envelope = Envelope(MERCHANT.terminal_hex, MERCHANT.merchant_id, next(_STANS), utc_now())
    message = authorisation_request(_FAKE, card_id="x", method=PaymentMethod.DEBIT,
                                    envelope=envelope, cdol1=CDOL1) if authorisation \
        else network_request(NetworkCode.ECHO, envelope)
    return sign(message, host.terminal.key)


@st.composite
def _mutated(draw: st.DrawFn, host: Host) -> bytes:
    """A genuine message with bytes flipped, cut, inserted or appended."""
    raw = bytearray(_good(host, authorisation=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip" and at < len(raw):
            raw[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[at:at + draw(st.integers(1, 8))]
        else:
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
    return bytes(raw)


def _garbage(host: Host) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=200),
                     st.binary(max_size=200).map(lambda b: b"0100" + b),
                     st.binary(max_size=200).map(lambda b: b"0800" + b),
                     _mutated(host))


def _check_answer(request: bytes, answer: bytes | None) -> None:
    if answer is None:
        return  # closed: allowed
    reply = decode(answer)
    assert reply["t"] == response_mti(request[:4].decode())
    assert len(reply["39"]) == 2


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_handler_answers_or_closes_and_never_raises(served: Host,
                                                        data: st.DataObject) -> None:
    raw = data.draw(_garbage(served))
    connection: Connection = served.core.connection("fuzz")
    _check_answer(raw, connection.handle(raw))


def test_an_answer_to_garbage_is_a_format_error_without_a_mac(served: Host) -> None:
    reply = answer_of(served.core.connection("fuzz").handle(b"0100" + b"\x00" * 7))
    assert (reply["t"], reply["39"]) == ("0110", "30") and "64" not in reply


def test_bytes_that_are_not_a_request_close_the_connection(served: Host) -> None:
    connection = served.core.connection("fuzz")
    assert connection.handle(b"\xff\xfe0100") is None and connection.handle(b"0110abc") is None


def _lying_frames() -> st.SearchStrategy[bytes]:
    body = st.binary(min_size=1, max_size=64)
    return st.one_of(
        body.map(lambda b: frame(b)),  # well framed garbage
        body.map(lambda b: len(b).to_bytes(2, "big") + b[: len(b) // 2]),  # cut short
        body.map(lambda b: (len(b) + 50).to_bytes(2, "big") + b),  # says more than it sends
        body.map(lambda b: b"\x00\x00" + b),  # zero length
        body.map(lambda b: (MAX_MESSAGE + 1).to_bytes(2, "big") + b),  # too long
        st.binary(max_size=3),  # not even a prefix
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=_lying_frames())
def test_the_server_survives_lying_frames_and_keeps_serving(served: Host, raw: bytes) -> None:
    answer = served.exchange(raw, framed=True)
    if answer is not None:
        _check_answer(raw[2:], answer)
    assert answer_of(served.exchange(_good(served)))["39"] == "00"


def test_a_connection_stays_served_while_others_misbehave(served: Host) -> None:
    with socket.create_connection(served.address, timeout=10) as steady:
        for garbage in (b"\x00\x00", b"\x10\x00" + bytes(5), frame(b"\xff" * 40)):
            served.exchange(garbage, framed=True)
            steady.sendall(frame(_good(served)))
            prefix = steady.recv(2, socket.MSG_WAITALL)
            reply = decode(steady.recv(int.from_bytes(prefix, "big"), socket.MSG_WAITALL))
            assert reply["39"] == "00"


def test_a_refusal_is_logged_without_the_values_of_the_message(served: Host,
                                                                 caplog: pytest.LogCaptureFixture
                                                                 ) -> None:
    raw = _good(served, authorisation=True).replace(b"6200000000000005", b"62000000000000X5")
    with caplog.at_level(logging.INFO, logger="dualcard.service"):
        reply = answer_of(served.core.connection("fuzz").handle(raw))
    assert reply["39"] == "30"
    [record] = caplog.records
    assert record.fields["rc"] == "30" and "DE 2" in record.fields["reason"]  # type: ignore[attr-defined]
    assert "62000000000000X5" not in record.getMessage() + str(record.fields)  # type: ignore[attr-defined]


class _BrokenReplay(ReplayGuard):
    def reserve(self, *args: object, **kwargs: object) -> bytes | None:
        raise OperationalError("INSERT", {}, Exception("database is locked"))


def test_a_database_out_of_reach_answers_96_to_an_authenticated_terminal(served: Host) -> None:
    core = ServiceCore(served.core.services, replay=_BrokenReplay(served.office.db))
    raw = core.connection("fuzz").handle(_good(served))
    reply = answer_of(raw)
    assert raw is not None and reply["39"] == "96" and verify(raw, reply, served.terminal.key)


@pytest.mark.parametrize(("sent", "idle", "cut"), [(b"", 0.2, 60), (b"\x00\x40" + bytes(10), 60, 0.2)],
                         ids=["idle", "cut short"])
def test_a_connection_that_stalls_is_closed_and_the_others_served(served: Host, sent: bytes,
                                                                  idle: float, cut: float) -> None:
    """Idle with nothing sent (``idle_timeout``), or stalled inside a frame after its
    length prefix (``frame_timeout``, the other one far off): the server closes that
    connection, unanswered."""
    server = ISOServer(served.core, idle_timeout=idle, frame_timeout=cut)
    with serve_in_thread(server) as address, \
            socket.create_connection(address, timeout=30) as stalled:
        stalled.sendall(sent)
        assert stalled.recv(1) == b""  # closed by the server, nothing answered
        with socket.create_connection(address, timeout=10) as steady:
            steady.sendall(frame(_good(served)))
            prefix = steady.recv(2, socket.MSG_WAITALL)
            reply = decode(steady.recv(int.from_bytes(prefix, "big"), socket.MSG_WAITALL))
    assert reply["39"] == "00"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cuts=st.lists(st.integers(1, 400), min_size=1, max_size=6))
def test_frames_sent_back_to_back_in_any_pieces_are_answered_in_order(served: Host,
                                                                      cuts: list[int]) -> None:
    """A terminal that sends its next requests before the answers, in pieces cut anywhere
    (a prefix split, several frames in one write), gets each answered, in order."""
    requests = [_good(served) for _ in range(3)]
    stream = b"".join(frame(raw) for raw in requests)
    with socket.create_connection(served.address, timeout=10) as terminal:
        for start, end in itertools.pairwise([0, *sorted(min(cut, len(stream)) for cut in cuts),
                                              len(stream)]):
            terminal.sendall(stream[start:end])
        replies = []
        for _ in requests:
            prefix = terminal.recv(2, socket.MSG_WAITALL)
            replies.append(decode(terminal.recv(int.from_bytes(prefix, "big"),
                                                socket.MSG_WAITALL)))
    assert [reply["11"] for reply in replies] == [decode(raw)["11"] for raw in requests]
    assert all(reply["39"] == "00" for reply in replies)
