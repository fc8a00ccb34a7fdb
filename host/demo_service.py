"""The service host ``make demo`` runs its terminals through.

The demo's day goes over the network as an alliance's does: the issuer and the back office
sit behind a service host listening on loopback (ISO 8583 over TCP for authorisations,
HTTP/JSON for points, loads, redemptions and uploads), and every terminal talks to it
through its own :class:`~host.pos.network_link.NetworkLink`, with its own key. The
service's clock is the story's, so the day's messages carry the day's transmission times
and the replay window holds them to it.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from host.backoffice import BackOffice
from host.payment.issuer import AuthorisationPolicy
from host.payment.keys import IssuerKeys
from host.points.keys import PurseKeySource
from host.pos.merchant import MerchantIdentity
from host.pos.network_link import NetworkLink
from host.service.ca import CA_CERT, init_ca, issue_server, issue_terminal
from host.service.core import LOGGER, ServiceCore
from host.service.mac import key_check_value
from host.service.runner import ServiceHost
from host.service.schema import create_service_schema
from host.service.services import AllianceServices
from host.service.tcp_server import serve_in_thread
from host.service.terminals import register_terminal
from host.service.tls import ServerTLS, client_context

__all__ = ["DemoService", "demo_service"]


@dataclass
class DemoService:
    """Where the demo's service host listens, and the keys of the terminals it serves."""

    iso: tuple[str, int]
    http: tuple[str, int]
    keys: dict[str, bytes]  #: terminal id -> its MAC key
    clock: Callable[[], dt.datetime]
    tls: Path  #: the alliance CA, the host's and each terminal's certificate (mutual TLS)

    @property
    def http_url(self) -> str:
        return f"https://{self.http[0]}:{self.http[1]}"

    def kcv(self, terminal_id: str) -> str:
        return key_check_value(self.keys[terminal_id])

    def client_tls(self, terminal_id: str) -> ssl.SSLContext:
        """The TLS context a terminal dials with: the demo's CA, its own certificate."""
        return client_context(self.tls / CA_CERT, cert=self.tls / f"terminal-{terminal_id}.pem",
                              key=self.tls / f"terminal-{terminal_id}.key")

    def link(self, merchant: MerchantIdentity) -> NetworkLink:
        """The network link of one of the terminals, keyed with its own key."""
        tid = merchant.terminal_hex
        return NetworkLink(*self.iso, merchant=merchant, key=self.keys[tid], http=self.http_url,
                           clock=self.clock, timeout=10.0, tls=self.client_tls(tid))


@contextmanager
def demo_service(office: BackOffice, terminals: Sequence[str], *, payment_keys: IssuerKeys,
                 points_keys: PurseKeySource, bank_id: str, policy: AuthorisationPolicy,
                 clock: Callable[[], dt.datetime], log: Path) -> Iterator[DemoService]:
    """Key ``terminals`` and serve the alliance on loopback (both doors, ephemeral ports)
    until the block ends, over mutual TLS with a CA made for the occasion (in ``tls`` beside
    ``log``), the service's log lines going to ``log``; the back office stays the caller's
    to close."""
    with _logging_to(log), _serving(office, terminals, payment_keys, points_keys, bank_id,
                                    policy, clock, log.parent / "tls") as service:
        yield service


@contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """The service's log in a file for the length of the demo (the story is on stdout)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    propagate, level = LOGGER.propagate, LOGGER.level
    LOGGER.addHandler(handler)
    LOGGER.propagate = False
    LOGGER.setLevel(logging.INFO)
    try:
        yield
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.propagate, LOGGER.level = propagate, level
        handler.close()


@contextmanager
def _serving(office: BackOffice, terminals: Sequence[str], payment_keys: IssuerKeys,
             points_keys: PurseKeySource, bank_id: str, policy: AuthorisationPolicy,
             clock: Callable[[], dt.datetime], tls_dir: Path) -> Iterator[DemoService]:
    create_service_schema(office.db)
    keys = {tid: register_terminal(office.db, tid, at=clock()).key for tid in terminals}
    services = AllianceServices(office, payment_keys=payment_keys, points_keys=points_keys,
                                bank_id=bank_id, policy=policy)
    tls = _throwaway_pki(tls_dir, terminals)
    host = ServiceHost(ServiceCore(services, clock=clock), iso_port=0, http_port=0, tls=tls)
    with serve_in_thread(host) as bound:
        yield DemoService(bound["iso"], bound["http"], keys, clock, tls_dir)


def _throwaway_pki(directory: Path, terminals: Sequence[str]) -> ServerTLS:
    """A CA made for the demo, the host's certificate for 127.0.0.1, one per terminal."""
    directory.mkdir(parents=True, exist_ok=True)
    init_ca(directory, name="dualcard demo alliance CA")
    server = issue_server(directory, ["127.0.0.1"], directory)
    for tid in terminals:
        issue_terminal(directory, tid, directory)
    return ServerTLS(server.cert, server.key, client_ca=directory / CA_CERT)
