"""The service host on loopback, over the POS suite's alliance, on both databases.

``host`` is the service serving the sample alliance (SHOP A's terminal keyed) on
127.0.0.1; ``card`` a simulated sample card with chip 1 ready to ask for an ARQC. Tests
talk to the service through real sockets: the terminal's :class:`NetworkLink`, or raw
frames for what no honest terminal sends.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from apdu_specs.payment.ac_type import ACType
from host.backoffice import BackOffice
from host.backoffice.schema import bo_authorisations
from host.payment.issuer import AuthorisationPolicy, AuthorisationRequest
from host.payment.terminal import TerminalProfile, TransactionData
from host.pos.chip_payment import ChipPayment
from host.pos.context import CardClients
from host.pos.link import PaymentMethod
from host.pos.network_link import NetworkLink
from host.service.core import ServiceCore
from host.service.iso8583 import Message, decode, frame, frame_length
from host.service.runner import ServiceHost
from host.service.schema import create_service_schema
from host.service.services import AllianceServices
from host.service.tcp_server import ISOServer, serve_in_thread
from host.service.terminals import TerminalKey, register_terminal
from host.service.tls import ServerTLS
from host.testing.fixtures import simulated_link
from host.testing.personalise import SAMPLE
from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401
from tests.pos.conftest import MERCHANT, PIN, START, build_office

POLICY = AuthorisationPolicy(approve_up_to=10_000_00, refer_up_to=20_000_00)


@dataclasses.dataclass
class Host:
    """The running service and what a test needs to talk to it and look behind it."""

    office: BackOffice
    core: ServiceCore
    address: tuple[str, int]
    terminal: TerminalKey  #: SHOP A's terminal, keyed
    http_url: str | None = None  #: the HTTP door's base URL, when it runs

    def link(self, **kwargs: Any) -> NetworkLink:
        kwargs.setdefault("merchant", MERCHANT)
        kwargs.setdefault("key", self.terminal.key)
        kwargs.setdefault("timeout", 10.0)
        kwargs.setdefault("http", self.http_url)
        return NetworkLink(*self.address, **kwargs)

    def authorisations(self) -> list[Any]:
        with self.office.db.read() as conn:
            return list(conn.execute(select(bo_authorisations)))

    def conversation(self, *messages: bytes) -> list[bytes | None]:
        """Several messages on one connection, each answered before the next is sent."""
        answers: list[bytes | None] = []
        with socket.create_connection(self.address, timeout=10) as sock:
            for raw in messages:
                sock.sendall(frame(raw))
                answers.append(_read_answer(sock))
        return answers

    def exchange(self, raw: bytes, *, framed: bool = False) -> bytes | None:
        """One message (or raw bytes, ``framed``) on a new connection: the answer, or None
        when the service closes the connection."""
        with socket.create_connection(self.address, timeout=10) as sock:
            sock.sendall(raw if framed else frame(raw))
            if framed:  # whatever the bytes announced, no more will come
                sock.shutdown(socket.SHUT_WR)
            return _read_answer(sock)


def _read_answer(sock: socket.socket) -> bytes | None:
    prefix = _read(sock, 2)
    if prefix is None:
        return None
    return _read(sock, frame_length(prefix))


def _read(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def alliance_services(directory: Path, url: str) -> tuple[AllianceServices, TerminalKey]:
    """The alliance's services over a fresh back office (the tests' shop, bank and card),
    the service's tables made, and SHOP A's terminal keyed: the services and its key."""
    office = build_office(directory, url)
    services = AllianceServices(office, payment_keys=SAMPLE.payment_keys,
                                points_keys=SAMPLE.purse_keys, bank_id="bank", policy=POLICY)
    create_service_schema(office.db)
    return services, register_terminal(office.db, MERCHANT.terminal_hex, at=START)


def open_host(directory: Path, url: str, *, workers: int = 1) -> Iterator[Host]:
    services, key = alliance_services(directory, url)
    office, core = services.office, ServiceCore(services)
    try:
        with serve_in_thread(ISOServer(core, workers=workers)) as address:
            yield Host(office, core, address, key)
    finally:
        office.close()


def open_service(directory: Path, url: str, *, workers: int = 1,
                 tls: ServerTLS | None = None) -> Iterator[Host]:
    """Both doors, ISO 8583 and HTTP, in one :class:`ServiceHost` on loopback (over
    ``tls`` when given)."""
    services, key = alliance_services(directory, url)
    office, core = services.office, ServiceCore(services)
    try:
        with serve_in_thread(ServiceHost(core, workers=workers, tls=tls)) as bound:
            http, scheme = bound["http"], "http" if tls is None else "https"
            yield Host(office, core, bound["iso"], key, f"{scheme}://{http[0]}:{http[1]}")
    finally:
        office.close()


@pytest.fixture
def service(tmp_path: Path, db_url: str) -> Iterator[Host]:  # noqa: F811
    """Both doors on the test's database kind (SQLite, then PostgreSQL)."""
    yield from open_service(tmp_path, db_url)


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Iterator[Host]:
    yield from open_service(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite3'}")


@pytest.fixture
def host(tmp_path: Path, db_url: str) -> Iterator[Host]:  # noqa: F811
    yield from open_host(tmp_path, db_url)


@pytest.fixture
def sqlite_host(tmp_path: Path) -> Iterator[Host]:
    yield from open_host(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite3'}")


@pytest.fixture
def card(sim_card: Any) -> CardClients:
    link = simulated_link(sim_card)
    return CardClients(link.chip(1), link.chip(2))


def arqc_request(card: CardClients, amount: int,
                 method: PaymentMethod = PaymentMethod.DEBIT) -> tuple[ChipPayment,
                                                                        AuthorisationRequest]:
    """Chip 1 read, PIN verified, first GENERATE AC asked for an ARQC of ``amount``."""
    chip = ChipPayment(card.payment, TerminalProfile(),
                       TransactionData(amount, bytes.fromhex("0BADF00D"), START.date()))
    chip.open(method=method)
    chip.verify_pin(PIN)
    first = chip.first_ac(ACType.ARQC)
    assert first.kind is ACType.ARQC
    return chip, chip.authorisation_request()


def answer_of(raw: bytes | None) -> Message:
    assert raw is not None, "the service closed the connection"
    return decode(raw)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
