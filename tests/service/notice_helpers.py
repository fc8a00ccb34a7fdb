"""Real receivers on loopback for the notice dispatcher's tests: an SMTP server (aiosmtpd)
that keeps the messages it accepts, and a merchant's webhook receiver (http.server in a
thread) that checks each signature, can be told to fail, and deduplicates by notice id as
a merchant's receiver should."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.service.notices.signing import WebhookSignatureError, verify_webhook

T0 = dt.datetime(2025, 6, 18, 8, 0, tzinfo=dt.UTC)
SECRET = "whsec-test-0123456789abcdef"


def notice_office(url: str) -> BackOffice:
    """A back office with a merchant (TEA) and two holders (C001, C002)."""
    office = BackOffice(url)
    office.init(at=T0)
    office.add_members([
        Member("TEA", MemberKind.MERCHANT, "Jasmine Tea House", T0, two_way=Ratio(1, 10)),
        Member("C001", MemberKind.CONSUMER, "Zhang San", T0, card_id="CARD0001"),
        Member("C002", MemberKind.CONSUMER, "Li Si", T0, card_id="CARD0002"),
    ], at=T0)
    return office


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


# -- SMTP ------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server accepted: (recipients, message) in order."""

    host: str
    port: int
    received: list[tuple[list[str], Message]] = field(default_factory=list)
    refuse_with: str | None = None  #: an SMTP reply to give instead of accepting

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_with:
            return self.refuse_with
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


# -- webhooks --------------------------------------------------------------------------------


@dataclass
class Receiver:
    """A merchant's webhook endpoint: verifies, answers ``statuses`` in turn (then 200),
    records every attempt and acts on each notice id once."""

    secret: bytes
    clock: Clock
    statuses: list[int] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  #: notice ids, one per verified POST
    acted_on: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  #: why unverifiable posts were refused
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay: float = 0.0  #: seconds each answer takes (a slow receiver, so that work overlaps)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        try:
            notice = verify_webhook(self.secret, headers, body,
                                    now=self.clock().timestamp())
        except WebhookSignatureError as exc:
            self.refused.append(str(exc))
            return 400
        time.sleep(self.delay)
        with self.lock:
            self.attempts.append(notice["id"])
            status = self.statuses.pop(0) if self.statuses else 200
            if 200 <= status < 300:
                self.acted_on.setdefault(notice["id"], notice)  # a repeat changes nothing
        return status


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer(dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def webhook_receiver(clock: Clock, secret: str = SECRET, statuses: list[int] | None = None,
                     delay: float = 0.0) -> Iterator[Receiver]:
    receiver = Receiver(secret.encode(), clock, list(statuses or []), delay=delay)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/dualcard/notices"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def as_json(text: str) -> Any:
    return json.loads(text)


# -- STARTTLS --------------------------------------------------------------------------------


def loopback_certificate(directory: Path) -> Path:
    """A self-signed certificate (and its key, in the same PEM file) for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / "relay.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path


@contextmanager
def starttls_smtp_server(pem: Path, login: tuple[str, str]) -> Iterator[Mailbox]:
    """An SMTP server that requires STARTTLS, then a login (``login``: user, password)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pem)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        user, password = login
        return AuthResult(success=isinstance(data, LoginPassword)
                          and (data.login, data.password) == (user.encode(), password.encode()))

    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port,
                            tls_context=context, require_starttls=True, auth_required=True,
                            authenticator=authenticate)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
