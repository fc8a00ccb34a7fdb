"""A prepaid payment at the till whose answer is lost, through a real service on loopback
(SQLite and PostgreSQL): the terminal journals it as sent, its reconcile sends it again
under the same request id, and the back office posts it once — whether the lost answer
was to a payment the service had posted or to one that never reached it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from host.backoffice.prepaid import PrepaidOffice
from host.backoffice.prepaid.schema import pp_movements
from host.pos import Journal, Terminal, TxnKind, TxnStatus
from host.pos.prepaid_pay import SENT, prepaid_request_id
from tests.pos.conftest import MERCHANT, PIN, Clock, make_terminal

from .conftest import Host
from .relay import Relay
from .test_http_pos import _tea_club

pytestmark = pytest.mark.sim


class HTTPRelay(Relay):
    """A relay to the service's HTTP door. While ``lose`` is set every request reaches
    the service, which answers it, but the answer never reaches the terminal: its connection
    is closed instead. While ``down`` is set no request gets through at all."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.lose = False
        self.answered = 0  #: requests the service answered
        super().__init__()
        self.url = "http://{}:{}".format(*self.address)

    def serve(self, client: socket.socket) -> None:
        with client.makefile("rb") as from_client, \
                socket.create_connection(self.upstream, timeout=10) as server, \
                server.makefile("rb") as from_server:
            while (request := _message(from_client)) is not None:
                server.sendall(request)
                answer = _message(from_server)
                if answer is None:
                    return
                self.answered += 1
                if self.lose:
                    return  # the answer is lost: the terminal's connection drops
                client.sendall(answer)


def _message(stream: BinaryIO) -> bytes | None:
    """One HTTP/1.1 request or response (its head and a Content-Length body), or None."""
    head = b""
    while (line := stream.readline()) not in (b"\r\n", b""):
        head += line
    if not head or not line:
        return None
    length = next((int(h.split(b":", 1)[1]) for h in head.split(b"\r\n")
                   if h.lower().startswith(b"content-length:")), 0)
    return head + b"\r\n" + stream.read(length)


@pytest.fixture
def relay(service: Host) -> Iterator[HTTPRelay]:
    relay = HTTPRelay(service.http_url or "")
    yield relay
    relay.close()


@pytest.fixture
def till(service: Host, relay: HTTPRelay, sim_card: Any, tmp_path: Path) -> Iterator[Terminal]:
    link = service.link(http=relay.url, attempts=2, timeout=5)
    journal = Journal(tmp_path / "journal.sqlite3", terminal_id=MERCHANT.terminal_hex)
    try:
        yield make_terminal(sim_card, link, journal, Clock())
    finally:
        journal.close()
        link.close()


def _payments(service: Host, request_id: str) -> int:
    """How many times the payment drew on a card (each draw one live record)."""
    with service.office.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(pp_movements).where(
            pp_movements.c.request_id == request_id, pp_movements.c.kind == "pay")).scalar_one())


@pytest.mark.parametrize("lost", ["answer lost", "host down"])
def test_an_unanswered_prepaid_payment_is_sent_again_by_reconcile_and_posts_once(
    service: Host, relay: HTTPRelay, till: Terminal, lost: str
) -> None:
    account = _tea_club(service)  # 7,000.00 on two cards of 5,000 and 2,000
    prepaid = PrepaidOffice(service.office.db)
    relay.lose, relay.down = lost == "answer lost", lost == "host down"
    with pytest.raises(ConnectionError):
        till.pay_prepaid(550_000, pin=PIN)
    entry = till.journal.entries()[-1]
    assert (entry.kind, entry.status, entry.stage) == (TxnKind.PREPAID, TxnStatus.INCOMPLETE,
                                                       SENT)
    request_id = prepaid_request_id(till.ctx, entry.txn_id)
    posted_before = 2 if lost == "answer lost" else 0  # two attempts answered, one posting
    assert relay.answered == posted_before
    assert prepaid.balance(account)["balance"] == (150_000 if posted_before else 700_000)

    (waiting,) = till.reconcile()  # still no answer: it waits, nothing lost
    assert (waiting.txn_id, waiting.action) == (entry.txn_id, "waiting")
    assert till.journal.entry(entry.txn_id).stage == SENT

    relay.lose = relay.down = False
    (done,) = till.reconcile()
    assert (done.txn_id, done.action) == (entry.txn_id, "completed")
    finished = till.journal.entry(entry.txn_id)
    assert finished.status is TxnStatus.APPROVED and finished.stage == "done"
    assert finished.summary["prepaid"] == {"payment": request_id, "account": account,
                                           "charged": 550_000, "cards": 2,
                                           "balance": 150_000}
    assert prepaid.balance(account)["balance"] == 150_000
    assert _payments(service, request_id) == 2  # one payment drawing two cards, once
    assert till.reconcile() == []


def test_a_payment_refused_when_sent_again_is_declined_and_not_sent_again(
    service: Host, relay: HTTPRelay, till: Terminal
) -> None:
    account = _tea_club(service)
    prepaid = PrepaidOffice(service.office.db)
    relay.down = True
    with pytest.raises(ConnectionError):
        till.pay_prepaid(600_000, pin=PIN)
    prepaid.pay("counter-1", account, 200_000, at=till.ctx.now())  # spent meanwhile
    relay.down = False
    (outcome,) = till.reconcile()
    assert outcome.action == "not done" and "value" in outcome.detail
    entry = till.journal.entries()[-1]
    assert (entry.status, entry.stage) == (TxnStatus.DECLINED, "done")
    assert prepaid.balance(account)["balance"] == 500_000
    assert till.reconcile() == []
