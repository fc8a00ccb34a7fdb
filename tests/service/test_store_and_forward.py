"""The terminal's side of lost answers and a host that is down, through real sockets.

A relay on loopback stands between the terminal's network link and the service: it passes
every request on, and can lose the answers to authorisations (the connection drops after
the request was sent) or play a host that is down (every connection closes at once).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select

from apdu_specs.payment.aids import CREDIT_AID
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.schema import FORMAT_VERSION, bo_issuer_scripts
from host.cli.pos_cmds import pos
from host.payment.client import PaymentClient
from host.payment.perso import CDOL1
from host.pos import ARPCRejectedError, Journal, Terminal, TxnStatus
from host.pos.config import load_config
from host.pos.link import PaymentMethod
from host.pos.network_link import HostUnreachableError, NetworkLink, StanCounter
from host.pos.saf import SAF_FILE, StoreAndForward
from host.service.core import ServiceCore
from host.service.iso8583 import MTI, frame, frame_length
from host.service.mac import write_key_file
from host.service.messages import Envelope, authorisation_request
from host.service.reversals import ScriptOutcomeRecord, reversal_request, script_advice
from host.service.schema import svc_advices, svc_authorisations
from host.service.tcp_server import ISOServer, serve_in_thread
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, PIN, START, Clock, make_terminal, terminal_files

from .conftest import Host, arqc_request, utc_now
from .relay import Relay
from .test_service_tcp import _RogueServices

pytestmark = pytest.mark.sim


class ISORelay(Relay):
    """A relay to ``upstream``: ``lose`` names the request MTIs whose answers are lost
    (the terminal's connection is closed instead); ``down`` closes every connection at
    once, as a host that is not there."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.lose: set[str] = set()
        self.stall = False  #: a lost answer is held back, not dropped (the terminal times out)
        self.seen: list[str] = []  #: the MTIs that reached the service, in order
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        with socket.create_connection(self.upstream, timeout=10) as server:
            while (request := _read_frame(client)) is not None:
                server.sendall(frame(request))
                self.seen.append(request[:4].decode())
                answer = _read_frame(server)
                if answer is None or request[:4].decode() in self.lose:
                    if self.stall:  # never answered: wait for the terminal to give up
                        _read(client, 1)
                    return  # the answer is lost: the terminal's connection drops
                client.sendall(frame(answer))


def _read_frame(sock: socket.socket) -> bytes | None:
    prefix = _read(sock, 2)
    return None if prefix is None else _read(sock, frame_length(prefix))


def _read(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        try:
            chunk = sock.recv(count - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


@pytest.fixture
def relay(host: Host) -> Iterator[ISORelay]:
    relay = ISORelay(host.address)
    yield relay
    relay.close()


def _link(host: Host, relay: ISORelay, saf: StoreAndForward) -> NetworkLink:
    return NetworkLink(*relay.address, merchant=MERCHANT, key=host.terminal.key, timeout=5,
                       attempts=2, saf=saf)


def _terminal(sim_card: Any, link: NetworkLink, tmp_path: Path) -> Terminal:
    journal = Journal(tmp_path / "journal.sqlite3", terminal_id=MERCHANT.terminal_hex)
    return make_terminal(sim_card, link, journal, Clock())


def _held(host: Host) -> int:
    return host.office.ledger.account("shop-a:cny").balance.credits_pending


def _rows(host: Host, table: Any) -> list[Any]:
    with host.office.db.read() as conn:
        return list(conn.execute(select(table)))


@pytest.mark.parametrize("stall", [False, True], ids=["connection dropped", "timed out"])
def test_a_lost_answer_is_repeated_then_reversed_and_no_hold_remains(
        host: Host, relay: ISORelay, card: Any, tmp_path: Path, stall: bool) -> None:
    relay.lose, relay.stall = {MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT}, stall
    saf = StoreAndForward(tmp_path / SAF_FILE)
    _, request = arqc_request(card, 60_00)
    with NetworkLink(*relay.address, merchant=MERCHANT, key=host.terminal.key, timeout=0.5,
                     attempts=2, saf=saf) as link, pytest.raises(HostUnreachableError):
        link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    assert relay.seen == ["0100", "0101", "0400"]  # the same STAN twice, then the reversal
    [auth] = host.authorisations()
    assert auth.decision == "approve"  # the issuer approved: the answer was what got lost
    assert _held(host) == 0 and saf.entries() == []
    [row] = _rows(host, svc_authorisations)
    assert row.reversed_at is not None and row.hold_id == f"hold-{auth.id}"


@pytest.mark.parametrize(("amount", "status"), [(60_00, TxnStatus.APPROVED),
                                                (600_00, TxnStatus.DECLINED)])
def test_the_sale_whose_answer_is_lost_goes_the_unable_to_go_online_way(
        host: Host, relay: ISORelay, sim_card: Any, tmp_path: Path, amount: int,
        status: TxnStatus) -> None:
    relay.lose = {MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT}
    saf = StoreAndForward(tmp_path / SAF_FILE)
    with _link(host, relay, saf) as link:
        terminal = _terminal(sim_card, link, tmp_path)
        sale = terminal.purchase(amount, pin=PIN, method=PaymentMethod.DEBIT, earn=False)
        terminal.journal.close()
    # the card decides as when the issuer is out of reach (Y3): the sample card approves
    # within its offline limit and declines above it
    assert (sale.status, sale.arc) == (status, b"Y3")
    assert _held(host) == 0  # the online approval the terminal never heard of is undone
    assert [a.decision for a in host.authorisations()] == ["approve"]
    advices = _rows(host, svc_advices)  # an offline approval is told to the issuer
    if status is TxnStatus.APPROVED:
        assert relay.seen == ["0100", "0101", "0400", "0220"]
        assert [(a.kind, json.loads(a.details)["amount"]) for a in advices] == [
            ("offline_sale", amount)]
    else:
        assert relay.seen == ["0100", "0101", "0400"] and advices == []
    assert saf.entries() == []


def test_a_host_that_is_down_gets_the_queue_in_order_once_it_is_back(
        host: Host, relay: ISORelay, card: Any, tmp_path: Path) -> None:
    relay.down = True
    path = tmp_path / SAF_FILE
    saf = StoreAndForward(path)
    chip, request = arqc_request(card, 70_00)
    with _link(host, relay, saf) as link:
        with pytest.raises(HostUnreachableError):
            link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
        link.advise_offline_sale(chip.advice_request(), card_id=SAMPLE.identity,
                                 method=PaymentMethod.DEBIT)
    queued = saf.entries()
    assert [(e.kind, e.mti) for e in queued] == [("reversal", "0400"), ("advice", "0220")]
    saf.close()  # the terminal restarts: the queue is in its file
    relay.down = False
    saf = StoreAndForward(path)
    with _link(host, relay, saf) as link:
        assert link.forward() == 2
        assert link.forward() == 0
    assert saf.entries() == [] and relay.seen == ["0400", "0220"]
    assert [(r.stan, r.authorisation_id) for r in _rows(host, svc_authorisations)] == [
        (int(queued[0].message["90"][4:10]), None)]  # the reversal came first: noted
    [advice] = _rows(host, svc_advices)
    assert advice.stan == queued[1].stan
    # the same queue forwarded again (a terminal that crashed before it forgot them):
    # answered the same, posted once
    again = StoreAndForward()
    for entry in queued:
        again.put(entry.kind, entry.message, at=entry.queued_at)
    with _link(host, relay, again) as link:
        assert link.forward() == 2
    assert len(_rows(host, svc_advices)) == 1 and len(_rows(host, svc_authorisations)) == 1
    assert host.authorisations() == [] and _held(host) == 0


def test_a_message_the_service_refuses_is_kept_aside_and_the_next_ones_go(
        host: Host, relay: ISORelay, card: Any, tmp_path: Path) -> None:
    saf = StoreAndForward(tmp_path / SAF_FILE)
    sent_at = utc_now()
    _, request = arqc_request(card, 5_00)
    with NetworkLink(*relay.address, merchant=MERCHANT, key=host.terminal.key, saf=saf,
                     clock=lambda: sent_at, stan=StanCounter(500)) as link:
        link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
        original = authorisation_request(request, card_id=SAMPLE.identity,
                                         method=PaymentMethod.DEBIT, cdol1=link.cdol1,
                                         envelope=Envelope(MERCHANT.terminal_hex, "shop-a",
                                                           500, sent_at))
        wrong = {**reversal_request(original, Envelope(MERCHANT.terminal_hex, "shop-a", 600,
                                                       sent_at)), "4": "000000000001"}
        saf.put("reversal", wrong, at=sent_at)  # no honest terminal queues this one
        link.report_scripts([ScriptOutcomeRecord("limit/none/1", False)])  # forwarded now
        assert link.forward() == 0
    assert [a.kind for a in _rows(host, svc_advices)] == ["scripts"]  # behind the refused one
    [entry] = saf.entries()
    assert entry.status == "refused" and "12" in (entry.last_error or "")
    assert _held(host) == 5_00


# -- issuer scripts, confirmed over the network ----------------------------------------------


def _raise_limit(host: Host, limit: int) -> str:
    """What a credit review writes: a limit update waiting for the sample card's chip 1."""
    script_id = f"limit/{SAMPLE.identity}/1"
    with host.office.db.write() as conn:
        conn.execute(insert(bo_issuer_scripts).values(
            id=script_id, card_id=SAMPLE.identity, change_seq=1, new_limit=limit,
            created_at=to_micros(START), delivered_at=None, format_version=FORMAT_VERSION))
    return script_id


def test_the_0110_names_its_scripts_and_the_terminal_confirms_them_once(
        host: Host, relay: ISORelay, sim_card: Any, tmp_path: Path) -> None:
    script_id = _raise_limit(host, 15_000_00)
    saf = StoreAndForward(tmp_path / SAF_FILE)
    with _link(host, relay, saf) as link:
        terminal = _terminal(sim_card, link, tmp_path)
        sale = terminal.purchase(10_00, pin=PIN, method=PaymentMethod.CREDIT, earn=False)
        terminal.journal.close()
        queued = saf.entries()
    client = PaymentClient(terminal.card.chip1)
    client.select_application(CREDIT_AID)
    assert sale.approved and client.read_counters().credit_limit == 15_000_00  # PUT DATA ran
    assert relay.seen == ["0100", "0220"] and queued == []
    assert host.office.pending_limit_updates(SAMPLE.identity) == []
    [advice] = _rows(host, svc_advices)
    assert json.loads(advice.details) == {"ran": [script_id], "refused": [], "unknown": []}
    with host.office.db.read() as conn:
        delivered = conn.execute(select(bo_issuer_scripts.c.delivered_at)).scalar_one()
    copy = StoreAndForward()  # the same advice once more: recorded once, delivered once
    copy.put("scripts", script_advice([ScriptOutcomeRecord(script_id, True)], Envelope(
        MERCHANT.terminal_hex, "shop-a", advice.stan, from_micros(advice.sent_at))), at=START)
    with _link(host, relay, copy) as link:
        assert link.forward() == 1
    with host.office.db.read() as conn:
        assert conn.execute(select(bo_issuer_scripts.c.delivered_at)).scalar_one() == delivered
    assert len(_rows(host, svc_advices)) == 1


# -- dualcard pos saf ---------------------------------------------------------------------------


def test_the_queue_is_listed_and_flushed_from_the_command_line(host: Host, tmp_path: Path,
                                                               card: Any) -> None:
    (tmp_path / "terminal").mkdir()
    files = terminal_files(tmp_path / "terminal")  # its own directory: not the host's ledger
    key_file = tmp_path / "terminal.key"
    write_key_file(key_file, terminal_id=MERCHANT.terminal_hex, key=host.terminal.key)
    config = load_config(files["config"])
    original = authorisation_request(arqc_request(card, 9_00)[1], card_id=SAMPLE.identity,
                                     method=PaymentMethod.DEBIT, cdol1=CDOL1,
                                     envelope=Envelope(MERCHANT.terminal_hex, "shop-a", 77,
                                                       utc_now()))
    queue = config.open_saf()
    queue.put("reversal", reversal_request(original, Envelope(
        MERCHANT.terminal_hex, "shop-a", 78, utc_now())), at=START)
    queue.close()
    listed = _pos("saf", "list", "--config", files["config"])
    assert listed.exit_code == 0 and "0400 stan 000078  reversal pending" in listed.output
    unsure = _pos("saf", "flush", "--config", files["config"], "--service", "127.0.0.1:1",
                  "--key-file", str(key_file))
    assert unsure.exit_code == 2 and "give --tls-ca" in unsure.output  # TLS or --plain, said
    with socket.create_server(("127.0.0.1", 0)) as closed:  # a port nobody answers on
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    failed = _pos("saf", "flush", "--config", files["config"], "--service", dead,
                  "--key-file", str(key_file), "--timeout", "2", "--plain")
    assert failed.exit_code == 1 and failed.output.count("\n") == 2  # the count, the error
    flushed = _pos("saf", "flush", "--config", files["config"], "--service",
                   f"{host.address[0]}:{host.address[1]}", "--key-file", str(key_file), "--json",
                   "--plain")
    assert flushed.exit_code == 0 and json.loads(flushed.output) == {"forwarded": 1,
                                                                      "waiting": 0}
    assert _pos("saf", "list", "--config", files["config"]).output == "the queue is empty\n"
    [row] = _rows(host, svc_authorisations)
    assert (row.stan, row.authorisation_id) == (77, None)  # nothing to reverse: noted


def _pos(*args: str) -> Any:
    return CliRunner().invoke(pos, list(args), catch_exceptions=False)


def test_an_approval_the_card_refuses_is_reversed(host: Host, sim_card: Any,
                                                  tmp_path: Path) -> None:
    rogue = ServiceCore(_RogueServices(host.core.services))  # type: ignore[arg-type]
    with serve_in_thread(ISOServer(rogue)) as address, \
            NetworkLink(*address, merchant=MERCHANT, key=host.terminal.key) as link:
        terminal = _terminal(sim_card, link, tmp_path)
        with pytest.raises(ARPCRejectedError):  # the ARPC is not the issuer's
            terminal.purchase(20_00, pin=PIN, method=PaymentMethod.DEBIT, earn=False)
        terminal.journal.close()
        assert link.saf.entries() == []
    [auth] = host.authorisations()
    assert auth.decision == "approve" and _held(host) == 0  # approved, held, then released
    [row] = _rows(host, svc_authorisations)
    assert row.reversed_at is not None
