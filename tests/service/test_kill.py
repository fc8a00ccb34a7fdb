"""``kill -9`` under load: two service processes on one PostgreSQL, terminals failing over.

Two ``dualcard host serve --plain`` processes serve the same database. Eight terminals,
each with its own key, network link and durable store-and-forward queue, send genuine
ARQCs to one process and, when it is unreachable, to the other (a repeat 0101 with the
same STAN lands on whichever answers). A killer sends SIGKILL to a random process
:data:`KILLS` times during the run and restarts it on the same port. Now and then the card
declines what the issuer approved, and the terminal reverses it.

Afterwards every queue is forwarded, and the database must show what the terminals
believe, no more and no less: each approval they kept holds exactly once; each one they
reversed, or whose answer they lost, holds nothing; no ARQC was answered twice; no hold
exists without its ``svc_authorisations`` row; every asset sums to zero on the ledger.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import select

from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.database import Database
from host.backoffice.schema import bo_authorisations, ledger_open_holds, ledger_transfers
from host.payment.issuer import AuthorisationRequest
from host.pos.link import PaymentMethod
from host.pos.merchant import MerchantIdentity
from host.pos.network_link import (
    AnswerNotAuthenticatedError,
    HostUnreachableError,
    NetworkLink,
    ServiceRefusedError,
)
from host.pos.saf import StoreAndForward
from host.service.errors import MessageFormatError
from host.service.schema import create_service_schema, svc_authorisations
from host.service.terminals import register_terminal
from host.testing.arqcs import genuine_requests, sample_request
from host.testing.key_files import write_sample_key_files
from host.testing.personalise import SAMPLE
from host.testing.sample_terminal import OPENED, sample_alliance
from tests.backoffice.backoffice_helpers import check_invariants
from tests.backoffice.conftest import pg_server_url, pg_url  # noqa: F401

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20
TERMINALS = 8
BATCH = 100  #: genuine requests made at a time
AMOUNT = 12_34
#: the card declines what the issuer approved this often: the terminal reverses it
DECLINED_BY_CARD = 0.15
#: the impatient terminals' wait for an answer (seconds)
SHORT_TIMEOUT = 0.15
_LOST = (HostUnreachableError, AnswerNotAuthenticatedError, MessageFormatError)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """One ``dualcard host serve --plain`` on a fixed port, killed and started again."""

    def __init__(self, command: list[str], port: int, log: Path) -> None:
        self.command = [*command, "--iso-port", str(port)]
        self.address = ("127.0.0.1", port)
        self.log: IO[str] = log.open("a")
        self.process: subprocess.Popen[str] | None = None
        self.started = 0

    def start(self) -> None:
        """Start it and wait until it listens (its banner)."""
        self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True,
                                        env={**os.environ, "PYTHONPATH": str(ROOT)})
        banner = self.process.stdout.readline()  # type: ignore[union-attr]
        assert banner.startswith("dualcard host: ISO 8583 on"), banner
        self.started += 1

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(60)
        self.process.stdout.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)
            self.process.stdout.close()  # type: ignore[union-attr]
        self.log.close()


class FailoverLink(NetworkLink):
    """A terminal's link that dials the next service process when one refuses the call."""

    def __init__(self, addresses: list[tuple[str, int]], **kwargs: Any) -> None:
        super().__init__(*addresses[0], **kwargs)
        self.addresses = addresses

    def _connect(self) -> socket.socket:
        failure: OSError | None = None
        for _ in self.addresses:
            try:
                return super()._connect()
            except OSError as exc:
                failure = exc
                self.addresses = [*self.addresses[1:], self.addresses[0]]
                self.address = self.addresses[0]
        assert failure is not None
        raise failure


@dataclasses.dataclass
class Outcomes:
    """What the terminals believe, by ARQC."""

    approved: set[bytes] = dataclasses.field(default_factory=set)  #: kept approvals
    reversed: set[bytes] = dataclasses.field(default_factory=set)  #: approved, card declined
    lost: set[bytes] = dataclasses.field(default_factory=set)  #: no answer: reversed
    refused: dict[bytes, str] = dataclasses.field(default_factory=dict)  #: code, no issuer
    declined: set[bytes] = dataclasses.field(default_factory=set)
    errors: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@dataclasses.dataclass
class Rig:
    db: Database
    processes: list[ServiceProcess]
    terminals: list[tuple[MerchantIdentity, bytes]]
    logs: list[Path]

    def served(self) -> list[dict[str, Any]]:
        """The requests the processes logged (``rc`` "closed": answered by closing)."""
        return [entry for log in self.logs for entry in map(json.loads, log.read_text().splitlines())
                if "mti" in entry]


@pytest.fixture
def rig(tmp_path: Path, pg_url: str) -> Iterator[Rig]:  # noqa: F811
    office = sample_alliance(pg_url)
    ids = [f"0000000D{n:04X}" for n in range(1, TERMINALS + 1)]
    office.add_member(Member("shop-k", MemberKind.MERCHANT, "Shop K", OPENED,
                             two_way=Ratio(1, 10), terminals=tuple(ids)), at=OPENED)
    create_service_schema(office.db)
    terminals = [(MerchantIdentity("shop-k", bytes.fromhex(t)),
                  register_terminal(office.db, t, at=OPENED).key) for t in ids]
    keys = write_sample_key_files(tmp_path)
    command = [sys.executable, "-m", "host.cli.main", "host", "serve", "--db", pg_url,
               "--bank-id", "bank", "--payment-keys", str(keys.payment_keys),
               "--points-keys", str(keys.points_keys), "--card-keys", str(keys.card_keys),
               "--workers", "4", "--log-level", "info", "--plain"]
    logs = [tmp_path / f"service-{n}.log" for n in range(2)]
    processes = [ServiceProcess(command, _free_port(), log) for log in logs]
    try:
        for process in processes:
            process.start()
        yield Rig(office.db, processes, terminals, logs)
    finally:
        for process in processes:
            process.stop()
        office.close()


def _sales(template: AuthorisationRequest, n: int) -> Iterator[AuthorisationRequest]:
    """Terminal ``n``'s requests, each with its own ARQC, as many as it asks for."""
    for first in itertools.count(1 + n * 10**6, BATCH):
        yield from genuine_requests(template, BATCH, first)


def _terminal(n: int, rig: Rig, requests: Iterator[AuthorisationRequest],
              saf: StoreAndForward, done: threading.Event, outcomes: Outcomes) -> None:
    """Sale after sale until ``done``; what each one ended as, in ``outcomes``."""
    merchant, key = rig.terminals[n]
    addresses = [p.address for p in rig.processes]
    rng = random.Random(n)
    with FailoverLink(addresses[n % 2:] + addresses[:n % 2], merchant=merchant, key=key,
                      timeout=_timeout(n), saf=saf) as link:
        for request in requests:
            if done.is_set():
                return
            outcome = _sale(link, request, rng)
            with outcomes.lock:
                _note(outcomes, request.arqc, outcome)


def _timeout(n: int) -> float:
    """Half the terminals wait long; the others give up soon, so their repeats and
    reversals race the original still in flight."""
    return 10.0 if n % 2 == 0 else SHORT_TIMEOUT


def _sale(link: NetworkLink, request: AuthorisationRequest, rng: random.Random) -> str:
    try:
        answer = link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    except _LOST:
        return "lost"  # the link queued its reversal
    except ServiceRefusedError as exc:
        return f"refused {exc.code}"
    except Exception as exc:  # anything else fails the test, by name
        return f"error {type(exc).__name__}: {exc}"
    if not answer.response.approved:
        return "declined"
    if rng.random() < DECLINED_BY_CARD:
        link.reverse_authorisation(request)
        return "reversed"
    return "approved"


def _note(outcomes: Outcomes, arqc: bytes, outcome: str) -> None:
    kind, _, detail = outcome.partition(" ")
    if kind == "refused":
        outcomes.refused[arqc] = detail
    elif kind == "error":
        outcomes.errors.append(detail)
    else:
        getattr(outcomes, kind).add(arqc)


def _killer(rig: Rig, done: threading.Event, failures: list[str]) -> None:
    """SIGKILL a random process :data:`KILLS` times, starting it again each time."""
    rng = random.Random(16)
    try:
        for _ in range(KILLS):
            done.wait(rng.uniform(0.3, 1.5))
            victim = rng.choice(rig.processes)
            victim.kill()
            victim.start()
    except Exception as exc:  # reported by the test
        failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        done.set()


def _run(rig: Rig, tmp_path: Path) -> tuple[Outcomes, list[FailoverLink]]:
    template = sample_request(AMOUNT, OPENED.date())
    outcomes, done, failures = Outcomes(), threading.Event(), list[str]()
    queues = [StoreAndForward(tmp_path / f"saf-{n}.sqlite3") for n in range(TERMINALS)]
    threads = [threading.Thread(target=_terminal, args=(
        n, rig, _sales(template, n), queues[n], done, outcomes)) for n in range(TERMINALS)]
    killer = threading.Thread(target=_killer, args=(rig, done, failures))
    for thread in [*threads, killer]:
        thread.start()
    for thread in [killer, *threads]:
        thread.join()
    assert not failures, failures
    addresses = [p.address for p in rig.processes]
    links = [FailoverLink(list(addresses), merchant=merchant, key=key, saf=queues[n])
             for n, (merchant, key) in enumerate(rig.terminals)]
    return outcomes, links


def test_kill_9_under_load_loses_and_duplicates_nothing(rig: Rig, tmp_path: Path) -> None:
    outcomes, links = _run(rig, tmp_path)
    assert not outcomes.errors, outcomes.errors
    assert sum(p.started for p in rig.processes) == 2 + KILLS
    for link in links:  # both processes serve: every queue goes through
        with link:
            link.forward()
            assert link.saf.entries() == [], link.saf.entries()
        link.saf.close()
    assert outcomes.approved, "no sale was approved and kept"
    logged = rig.served()
    served = Counter((entry["mti"], entry["rc"]) for entry in logged)
    assert served["0101", "00"] > 0, served  # answers cut by a kill were asked for again
    # 94: an original that arrived after its own repeat was answered; 68: a request that
    # arrived after the terminal had given up on it and reversed it (the terminal moved on)
    assert [e for e in logged if e["rc"] not in ("00", "94", "68")] == []
    _check_postings(rig.db, outcomes)
    check_invariants(rig.db)
    print(f"\n{KILLS} kills: {len(outcomes.approved)} approvals kept, {len(outcomes.reversed)} "
          f"reversed as the card declined, {len(outcomes.lost)} answers lost (reversed), "
          f"{len(outcomes.refused)} refused; served: "
          + ", ".join(f"{mti} rc {rc}: {n}" for (mti, rc), n in sorted(served.items())))


def _check_postings(db: Database, outcomes: Outcomes) -> None:
    with db.read() as conn:
        rows = conn.execute(select(svc_authorisations)).all()
        answered = [bytes(r.arqc) for r in conn.execute(select(bo_authorisations.c.arqc))]
        holds = conn.execute(select(ledger_transfers.c.id).where(
            ledger_transfers.c.id.like("hold-%"))).scalars().all()
        open_holds = set(conn.execute(select(ledger_open_holds.c.transfer_id)).scalars())
    by_arqc = {bytes(r.arqc): r for r in rows if r.arqc is not None}
    assert len(by_arqc) == len([r for r in rows if r.arqc is not None]), "an ARQC held twice"
    assert len(answered) == len(set(answered)), "an ARQC answered twice"
    assert len(holds) == len(set(holds))
    row_holds = {r.hold_id: r for r in rows if r.hold_id is not None}
    assert set(holds) <= set(row_holds), "a hold without its svc_authorisations row"
    for arqc in outcomes.approved:
        row = by_arqc[arqc]
        assert row.reversed_at is None and row.hold_id in open_holds, row
    kept = {bytes(row_holds[h].arqc) for h in open_holds}
    assert kept == outcomes.approved, "a hold no terminal kept an approval for"
    for arqc in outcomes.reversed | outcomes.lost | set(outcomes.refused) | outcomes.declined:
        unheld = by_arqc.get(arqc)
        assert unheld is None or unheld.hold_id not in open_holds, unheld
    for arqc in outcomes.reversed | outcomes.lost:  # each reversal reached the service
        undone = by_arqc.get(arqc)
        assert undone.reversed_at is not None if undone is not None else arqc not in answered
