"""How the ISO door hands requests to its handler in batches (``group_wait``): an idle
service starts each request at once; a busy one (its last batch held more than one
request) waits for the batch to gather before it starts on a few, and starts at once when
enough have come or the wait is over. Observed on a real server over loopback: the core
records the batches it is given and holds each until the test lets it go. Both ways of
handling: in a handler thread (the loop reads on meanwhile) and on the loop's thread (SQLite's
default: what arrives during a batch is read after it)."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from host.service.core import Connection, ServiceCore
from host.service.iso8583 import NetworkCode, ResponseCode, decode, frame
from host.service.mac import sign
from host.service.messages import Envelope, network_request
from host.service.services import AllianceServices
from host.service.tcp_server import GROUP_GATHER, ISOServer, serve_in_thread
from host.service.terminals import TerminalKey
from tests.pos.conftest import MERCHANT

from .conftest import _read_answer, alliance_services, utc_now

_STANS = itertools.count(1)


class _GatedCore(ServiceCore):
    """The real core, each batch recorded, then held until :meth:`let_go`."""

    def __init__(self, services: AllianceServices) -> None:
        super().__init__(services)
        self.batches: list[int] = []
        self._gates: list[threading.Event] = []
        self._started = threading.Condition()

    def handle_many(self, requests: Sequence[tuple[Connection, bytes]]) -> list[bytes | None]:
        gate = threading.Event()
        with self._started:
            self.batches.append(len(requests))
            self._gates.append(gate)
            self._started.notify_all()
        assert gate.wait(30), "the test never let the batch go"
        return super().handle_many(requests)

    def started(self, count: int) -> list[int]:
        """The sizes of the batches once ``count`` have started."""
        with self._started:
            assert self._started.wait_for(lambda: len(self.batches) >= count, 10), self.batches
            return list(self.batches)

    def let_go(self, batch: int) -> None:
        self._gates[batch].set()


#: where the door handles its batches: in a thread of its own, or on the loop's thread
_WAYS = pytest.mark.parametrize("on_loop", [False, True], ids=["in a thread", "on the loop"])


@contextmanager
def _gated(directory: Path, group_wait: float, on_loop: bool
           ) -> Iterator[tuple[_GatedCore, tuple[str, int], TerminalKey]]:
    services, key = alliance_services(directory, f"sqlite:///{directory / 'ledger.sqlite3'}")
    core = _GatedCore(services)
    try:
        server = ISOServer(core, group_wait=group_wait, on_loop=on_loop)
        assert server.on_loop is on_loop
        with serve_in_thread(server) as address:
            yield core, address, key
            for n in range(len(core.batches)):  # nothing left waiting at the gate on stop
                core.let_go(n)
    finally:
        services.office.close()


def _send(address: tuple[str, int], key: TerminalKey, count: int) -> list[socket.socket]:
    """``count`` sign-ons, each on a connection of its own, not yet answered."""
    sockets = []
    for _ in range(count):
        envelope = Envelope(MERCHANT.terminal_hex, "shop-a", next(_STANS), utc_now())
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(frame(sign(network_request(NetworkCode.SIGN_ON, envelope), key.cipher)))
        sockets.append(sock)
    return sockets


def _answered(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        with sock:
            answer = _read_answer(sock)
            assert answer is not None and decode(answer)["39"] == ResponseCode.APPROVED


def _busy(core: _GatedCore, address: tuple[str, int], key: TerminalKey) -> list[socket.socket]:
    """A request alone (started at once), two behind it (started at once when it is done:
    the service was idle), three behind those, still held: the state of a busy service."""
    first = _send(address, key, 1)
    assert core.started(1) == [1]
    second = _send(address, key, 2)
    time.sleep(0.2)  # both have reached the service, which is still on the first
    core.let_go(0)
    assert core.started(2) == [1, 2]
    _answered(first)
    third = _send(address, key, 3)
    time.sleep(0.2)
    core.let_go(1)
    _answered(second)  # the batch of two is done and the service decided what comes next
    return third


@_WAYS
def test_a_busy_service_waits_for_a_fuller_batch_and_starts_once_it_gathers(
        tmp_path: Path, on_loop: bool) -> None:
    with _gated(tmp_path, 60.0, on_loop) as (core, address, key):
        third = _busy(core, address, key)
        time.sleep(0.3)
        assert core.batches == [1, 2]  # three waiting, fewer than a batch gathers: it waits
        more = _send(address, key, GROUP_GATHER - 3)
        assert core.started(3) == [1, 2, GROUP_GATHER]  # started as the last one came
        core.let_go(2)
        _answered(third + more)


@_WAYS
@pytest.mark.parametrize("group_wait", [0.3, 0.0], ids=["when the wait is over",
                                                      "at once without a wait"])
def test_a_busy_service_starts_on_what_came(tmp_path: Path, group_wait: float,
                                            on_loop: bool) -> None:
    with _gated(tmp_path, group_wait, on_loop) as (core, address, key):
        third = _busy(core, address, key)
        assert core.started(3) == [1, 2, 3]
        core.let_go(2)
        _answered(third)


def test_on_sqlite_the_door_handles_on_the_loop_unless_given_threads(tmp_path: Path) -> None:
    services, _ = alliance_services(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    try:
        core = ServiceCore(services)
        assert ISOServer(core).on_loop
        assert not ISOServer(core, workers=2).on_loop
        assert not ISOServer(core, on_loop=False).on_loop
    finally:
        services.office.close()


class _FailingOnceCore(ServiceCore):
    """The real core, except that the first batch it is given fails as a handler bug would."""

    def __init__(self, services: AllianceServices) -> None:
        super().__init__(services)
        self.failed = False

    def handle_many(self, requests: Sequence[tuple[Connection, bytes]]) -> list[bytes | None]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("a handler bug")
        return super().handle_many(requests)


@_WAYS
def test_a_batch_that_fails_closes_its_connections_and_the_door_serves_on(
        tmp_path: Path, on_loop: bool) -> None:
    services, key = alliance_services(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    core = _FailingOnceCore(services)
    try:
        with serve_in_thread(ISOServer(core, on_loop=on_loop)) as address:
            (first,) = _send(address, key, 1)
            with first:
                assert _read_answer(first) is None  # closed, no answer
            _answered(_send(address, key, 1))
    finally:
        services.office.close()
