"""TLS on both front doors: the alliance's CA made on the fly, a sale through real TLS
sockets on loopback, and every way a connection must not be trusted — refused with a
typed error or a response code, and nothing posted."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from host.cli.host_cmds import host as host_group
from host.pos.link import PaymentMethod
from host.pos.network_link import HTTPRefusedError, NetworkLink, ServiceRefusedError
from host.service.ca import init_ca, issue_server, issue_terminal
from host.service.iso8583 import ResponseCode, frame
from host.service.mac import write_key_file
from host.service.tls import (
    CertificateRefusedError,
    HostCertificateError,
    ServerTLS,
    TLSSetupError,
    client_context,
)
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, START

from .conftest import Host, arqc_request, open_service

pytestmark = pytest.mark.sim

TERMINAL_B = "0000000B0001"
LONG_AGO = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)


@dataclass(frozen=True)
class PKI:
    """The alliance's CA and what it issued, in a test's directory."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca" / "ca.pem"

    def server(self, name: str = "host") -> ServerTLS:
        return ServerTLS(self.root / name / "server.pem", self.root / name / "server.key")

    def terminal(self, terminal_id: str = MERCHANT.terminal_hex, *,
                 ca: Path | None = None) -> ssl.SSLContext:
        """Terminal ``terminal_id``'s context: trusts ``ca`` (the alliance's), shows its
        certificate."""
        stem = self.root / "terminals" / f"terminal-{terminal_id}"
        return client_context(ca or self.ca, cert=f"{stem}.pem", key=f"{stem}.key")


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    ca = tmp_path / "pki" / "ca"
    init_ca(ca)
    issue_server(ca, ["127.0.0.1", "localhost"], tmp_path / "pki" / "host")
    issue_server(ca, ["service.alliance.example"], tmp_path / "pki" / "elsewhere")
    issue_server(ca, ["127.0.0.1"], tmp_path / "pki" / "expired", days=30, now=LONG_AGO)
    for terminal_id in (MERCHANT.terminal_hex, TERMINAL_B):
        issue_terminal(ca, terminal_id, tmp_path / "pki" / "terminals")
    init_ca(tmp_path / "other", name="another CA")
    return PKI(tmp_path / "pki")


def _serve(tmp_path: Path, tls: ServerTLS) -> Iterator[Host]:
    return open_service(tmp_path, f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tls=tls)


@pytest.fixture
def mutual(tmp_path: Path, pki: PKI) -> Iterator[Host]:
    """Both doors over mutual TLS: terminals show a certificate of the alliance CA."""
    tls = ServerTLS(pki.server().cert, pki.server().key, pki.ca)
    yield from _serve(tmp_path, tls)


def _authorise(host: Host, card: Any, link: NetworkLink, amount: int = 12_34) -> bool:
    _, request = arqc_request(card, amount)
    answer = link.authorise(request, card_id=SAMPLE.identity, method=PaymentMethod.DEBIT)
    return answer.response.approved


def _quote(link: NetworkLink) -> list[int]:
    quotes = link.earn_quotes(merchant_id="shop-a", card_id=SAMPLE.identity,
                              method=PaymentMethod.DEBIT, purchase_fen=12_34, at=START)
    return [q.points for q in quotes]


def test_a_sale_goes_through_both_doors_over_mutual_tls(mutual: Host, card: Any,
                                                        pki: PKI) -> None:
    assert mutual.http_url is not None and mutual.http_url.startswith("https://127.0.0.1:")
    with mutual.link(tls=pki.terminal()) as link:
        assert _authorise(mutual, card, link)
        assert link._socket is not None and link._socket.version() == "TLSv1.3"
        assert _quote(link) == [12, 6]
    [row] = mutual.authorisations()
    assert (row.decision, row.terminal_id) == ("approve", MERCHANT.terminal_hex)


def test_without_mutual_tls_a_terminal_needs_only_the_ca(tmp_path: Path, card: Any,
                                                         pki: PKI) -> None:
    for host in _serve(tmp_path, pki.server()):
        with host.link(tls=client_context(pki.ca)) as link:
            assert _authorise(host, card, link)
            assert _quote(link) == [12, 6]


def test_tls_1_2_is_still_served(tmp_path: Path, card: Any, pki: PKI) -> None:
    older = client_context(pki.ca)
    older.maximum_version = ssl.TLSVersion.TLSv1_2
    for host in _serve(tmp_path, pki.server()):
        with host.link(tls=older) as link:
            link.echo()
            assert link._socket is not None and link._socket.version() == "TLSv1.2"


def _refused_on_both_doors(host: Host, card: Any, tls: ssl.SSLContext, kind: type[Exception],
                           says: str) -> None:
    """The link over ``tls`` raises ``kind`` on either door, at once; nothing is posted."""
    with host.link(tls=tls, attempts=3) as link:
        with pytest.raises(kind, match=says):
            _authorise(host, card, link)
        with pytest.raises(kind, match=says):
            _quote(link)
    assert host.authorisations() == []


@pytest.mark.parametrize(("server", "reason"), [
    ("elsewhere", "issued for another host"),
    ("expired", "has expired"),
])
def test_the_terminal_refuses_a_host_certificate_for_another_host_or_expired(
        tmp_path: Path, card: Any, pki: PKI, server: str, reason: str) -> None:
    for host in _serve(tmp_path, pki.server(server)):
        _refused_on_both_doors(host, card, client_context(pki.ca), HostCertificateError, reason)


def test_a_terminal_trusting_another_ca_refuses_the_host(mutual: Host, card: Any,
                                                         pki: PKI, tmp_path: Path) -> None:
    stranger = pki.terminal(ca=tmp_path / "other" / "ca.pem")
    _refused_on_both_doors(mutual, card, stranger, HostCertificateError,
                           "not issued by the alliance CA")


def test_mutual_tls_refuses_a_terminal_without_a_certificate(mutual: Host, card: Any,
                                                             pki: PKI) -> None:
    _refused_on_both_doors(mutual, card, client_context(pki.ca), CertificateRefusedError,
                           "refused this terminal's certificate .tlsv13 alert certificate "
                           "required")
    with mutual.link(tls=pki.terminal()) as link:  # and the next terminal is served
        assert _authorise(mutual, card, link)


def test_mutual_tls_refuses_a_certificate_of_another_ca(mutual: Host, card: Any, pki: PKI,
                                                        tmp_path: Path) -> None:
    issue_terminal(tmp_path / "other", MERCHANT.terminal_hex, tmp_path / "forged")
    stem = tmp_path / "forged" / f"terminal-{MERCHANT.terminal_hex}"
    forged = client_context(pki.ca, cert=f"{stem}.pem", key=f"{stem}.key")
    _refused_on_both_doors(mutual, card, forged, CertificateRefusedError, "unknown ca")


def test_mutual_tls_over_tls_1_2_refuses_a_terminal_without_a_certificate(
        mutual: Host, card: Any, pki: PKI) -> None:
    older = client_context(pki.ca)
    older.maximum_version = ssl.TLSVersion.TLSv1_2
    _refused_on_both_doors(mutual, card, older, CertificateRefusedError, "handshake failure")


def test_terminal_b_certificate_cannot_carry_terminal_a_messages(mutual: Host, card: Any,
                                                                 pki: PKI) -> None:
    with mutual.link(tls=pki.terminal(TERMINAL_B)) as link:  # A's MAC key, B's certificate
        with pytest.raises(ServiceRefusedError) as refused:
            _authorise(mutual, card, link)
        assert refused.value.code == ResponseCode.TERMINAL_NOT_PERMITTED
        assert refused.value.authenticated  # the MAC verified: the answer carries one
        with pytest.raises(HTTPRefusedError) as forbidden:
            _quote(link)
        assert (forbidden.value.status, forbidden.value.code) == (403, "certificate_mismatch")
    assert mutual.authorisations() == []


def _plain_frame(address: tuple[str, int]) -> bytes:
    """An echo frame sent in clear to the TLS door: what comes back before it closes."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(frame(b"0800" + bytes(40)))
        received = b""
        try:
            while chunk := sock.recv(4096):
                received += chunk
        except ConnectionResetError:
            pass
        return received


def test_a_plain_client_is_closed_and_the_others_still_served(mutual: Host, card: Any,
                                                              pki: PKI) -> None:
    assert b"0810" not in _plain_frame(mutual.address)
    assert mutual.http_url is not None
    in_clear = mutual.http_url.replace("https://", "http://") + "/health"
    with pytest.raises(httpx.TransportError):
        httpx.get(in_clear, timeout=10)
    with mutual.link(tls=pki.terminal()) as link:
        assert _authorise(mutual, card, link)
        assert _quote(link) == [12, 6]
    assert b"0810" not in _plain_frame(mutual.address)
    assert len(mutual.authorisations()) == 1


def test_a_link_with_a_certificate_but_no_key_is_a_setup_error(pki: PKI) -> None:
    with pytest.raises(TLSSetupError, match="needs its key"):
        client_context(pki.ca, cert=pki.root / "terminals" / "x.pem")
    with pytest.raises(TLSSetupError, match="CA file"):
        client_context(pki.root / "missing.pem")


def test_mutual_tls_refuses_an_expired_terminal_certificate(mutual: Host, card: Any, pki: PKI,
                                                            tmp_path: Path) -> None:
    issue_terminal(pki.root / "ca", MERCHANT.terminal_hex, tmp_path / "old", days=30,
                   now=LONG_AGO)
    stem = tmp_path / "old" / f"terminal-{MERCHANT.terminal_hex}"
    expired = client_context(pki.ca, cert=f"{stem}.pem", key=f"{stem}.key")
    _refused_on_both_doors(mutual, card, expired, CertificateRefusedError, "expired")


def test_the_echo_command_names_what_is_wrong_in_one_line(mutual: Host, pki: PKI,
                                                          tmp_path: Path) -> None:
    key_file = tmp_path / "terminal.key"
    write_key_file(key_file, terminal_id=MERCHANT.terminal_hex, key=mutual.terminal.key)
    stem = pki.root / "terminals" / f"terminal-{MERCHANT.terminal_hex}"
    mine = ["--tls-cert", f"{stem}.pem", "--tls-key", f"{stem}.key"]

    def echo(address: str, *extra: str) -> tuple[int, str]:
        ran = CliRunner().invoke(host_group, ["echo", address, "--key-file", str(key_file),
                                              "--merchant", "shop-a", *extra])
        return ran.exit_code, ran.output

    port = mutual.address[1]
    assert echo(f"127.0.0.1:{port}", "--tls-ca", str(pki.ca), *mine) == (
        0, f"echo answered by 127.0.0.1:{port} over TLSv1.3, MAC verified\n")
    for address, extra, says in [
            (f"127.0.0.1:{port}", ["--tls-ca", str(tmp_path / "other" / "ca.pem"), *mine],
             "not issued by the alliance CA"),
            (f"127.0.0.1:{port}", ["--tls-ca", str(pki.ca)], "refused this terminal's")]:
        code, output = echo(address, *extra)
        assert code == 1 and output.startswith("Error: ") and says in output
        assert output.count("\n") == 1
    code, output = echo(f"127.0.0.1:{port}")
    assert code == 2 and "give --tls-ca" in output
