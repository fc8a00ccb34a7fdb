"""A malformed-input campaign against a running service host, over real sockets.

:func:`run_campaign` sends ``frames`` malformed ISO 8583 frames and ``bodies`` malformed
HTTP requests, each case on its own connection (half-closed once sent when the bytes stop
short of what they announce, so nothing waits for bytes that never come), from a seeded
generator (:class:`Cases`): the same seed sends the same cases but for the times and
idempotency keys they carry. Every ``every`` cases a genuine request goes on a new
connection: an 0800 echo through the terminal's own network link (its answer's MAC
checked), or over HTTP a signed query through the link's HTTP client. It proves the host
keeps serving others.

ISO 8583 cases: random bytes in a frame; frames cut short; length prefixes that lie (zero,
above the maximum, shorter or longer than what follows); genuine messages with bytes
flipped, cut or inserted (their MAC then fails); and messages MACed with the terminal's
key whose fields are broken (dates, STANs, amounts, ICC data, original data elements,
processing codes, unknown message types), so they pass the MAC and reach the handlers.

HTTP cases: garbage; broken request lines and headers; lying ``Content-Length``; signing
headers missing, doubled or wrong; and requests signed with the terminal's key whose JSON
bodies are broken (not JSON, wrong types, missing or extra fields, deep nesting).

The :class:`Tally` counts answers by response code (ISO) or status (HTTP) and connections
closed without an answer. A crash is any of: a genuine request that failed, an ISO answer
96 (an unexpected error in a handler), an HTTP 5xx, an answer that is not one (garbage
back), or the service process gone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.backoffice.database import Database
from host.pos.merchant import MerchantIdentity
from host.pos.network_link import HTTPBackOffice, NetworkLink, StanCounter
from host.service import http_auth
from host.service.iso8583 import MAX_MESSAGE, MTI, NetworkCode, decode
from host.service.mac import sign
from host.service.messages import Envelope, network_request
from host.service.schema import create_service_schema
from host.service.terminals import register_terminal
from host.testing.sample_terminal import MERCHANT, OPENED, sample_alliance, write_sample_terminal

__all__ = ["Cases", "Tally", "Target", "run_campaign", "sample_host"]

#: how long one case waits for the service's answer (seconds)
_WAIT = 15.0
#: the STANs the malformed messages use; the genuine checks count from 1
_FUZZ_STANS = (500_000, 999_999)
_ICC = bytes.fromhex("9F2608") + bytes(8) + bytes.fromhex("9F3602000195050000000000")
_ROUTES = ("/v1/earn-quotes", "/v1/batches", "/v1/loads", "/v1/redemptions",
           "/v1/stripe-authorisations", "/v1/scripts/delivered", "/v1/reversals")


@dataclass(frozen=True)
class Target:
    """Where the host listens and the terminal whose key the campaign holds."""

    iso: tuple[str, int]
    http: tuple[str, int]
    merchant: MerchantIdentity
    key: bytes
    alive: Callable[[], bool] = lambda: True  #: whether the service process still runs


@dataclass
class Tally:
    """What the service did with each case."""

    iso: Counter[str] = field(default_factory=Counter)
    http: Counter[str] = field(default_factory=Counter)
    genuine: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  #: the first few genuine failures
    alive: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, door: Counter[str], *outcomes: str) -> None:
        with self.lock:
            door.update(outcomes)

    @property
    def crashes(self) -> int:
        bad = ("garbage back", "no answer in time", "refused to connect")
        return (self.genuine["failed"] + self.iso["rc 96"] + (0 if self.alive else 1)
                + sum(door[k] for door in (self.iso, self.http) for k in bad)
                + sum(n for k, n in self.http.items() if k.startswith("5")))

    def report(self) -> str:
        lines = [f"ISO 8583: {sum(self.iso.values())} malformed frames"]
        lines += [f"  {k:<22} {n:>8}" for k, n in sorted(self.iso.items())]
        lines += [f"HTTP: {sum(self.http.values())} malformed requests"]
        lines += [f"  {k:<22} {n:>8}" for k, n in sorted(self.http.items())]
        lines += [f"genuine requests: {self.genuine['ok']} answered, "
                  f"{self.genuine['failed']} failed",
                  f"service process: {'running' if self.alive else 'GONE'}",
                  f"crashes: {self.crashes}"]
        return "\n".join(lines + [f"  {f}" for f in self.failures[:5]])


class Cases:
    """The malformed cases of one seed, for one terminal and key."""

    def __init__(self, seed: int, merchant: MerchantIdentity, key: bytes) -> None:
        self.rng = random.Random(seed)
        self._declared = self._sent = 0  #: the last lying request's Content-Length, body
        self.merchant = merchant
        self.key = key

    # -- ISO 8583 ------------------------------------------------------------------------------

    def iso(self) -> bytes:
        """The bytes of one malformed case (prefixes included)."""
        kind = self.rng.choice((self._random, self._cut, self._lying, self._mutated,
                                self._broken_fields, self._broken_fields))
        return kind()

    def _random(self) -> bytes:
        body = self.rng.randbytes(self.rng.randint(1, 300))
        if self.rng.random() < 0.5:  # past the MTI check, into the decoder
            body = self.rng.choice([m.value for m in MTI]).encode() + body
        return _framed(body)

    def _cut(self) -> bytes:
        whole = _framed(self._genuine())
        return whole[:self.rng.randint(1, len(whole) - 1)]

    def _lying(self) -> bytes:
        body = self._genuine()
        length = self.rng.choice((0, MAX_MESSAGE + 1, 0xFFFF, self.rng.randint(1, len(body)),
                                  len(body) + self.rng.randint(1, 50)))
        return struct.pack(">H", length) + body

    def _mutated(self) -> bytes:
        raw = bytearray(self._genuine())
        for _ in range(self.rng.randint(1, 4)):
            at = self.rng.randrange(len(raw))
            choice = self.rng.random()
            if choice < 0.5:
                raw[at] ^= 1 << self.rng.randrange(8)
            elif choice < 0.75:
                del raw[at:at + self.rng.randint(1, 8)]
            else:
                raw[at:at] = self.rng.randbytes(self.rng.randint(1, 8))
        return _framed(bytes(raw) or b"\x00")

    def _broken_fields(self) -> bytes:
        """A message MACed with the terminal's key, one or more of its fields broken."""
        message = self._message()
        for _ in range(self.rng.randint(1, 3)):
            key = self.rng.choice(sorted(_BREAKERS))
            value = _BREAKERS[key](self.rng)
            if value is None:
                message.pop(key, None)
            else:
                message[key] = value
        try:
            return _framed(sign(message, self.key))
        except Exception:  # the codec refuses to write it: send its genuine form cut
            return self._cut()

    def _genuine(self) -> bytes:
        return sign(self._message(), self.key)

    def _message(self) -> dict[str, Any]:
        envelope = Envelope(self.merchant.terminal_hex, self.merchant.merchant_id,
                            self.rng.randint(*_FUZZ_STANS), _now())
        if self.rng.random() < 0.3:
            return dict(network_request(NetworkCode.ECHO, envelope))
        mti = self.rng.choice((MTI.AUTHORISATION, MTI.AUTHORISATION_REPEAT, MTI.REVERSAL,
                               MTI.ADVICE))
        return {"t": mti, "2": "6200000000000005", "3": "000000", "4": "000000001234",
                "23": "001", "49": "156", "55": _ICC, "62": "C1000001", **envelope.fields(),
                **({"90": f"0100{envelope.stan:06d}{envelope.fields()['7']}" + "0" * 22}
                   if mti == MTI.REVERSAL else {})}

    # -- HTTP ----------------------------------------------------------------------------------

    def http(self, host: str) -> tuple[bytes, bool]:
        """The bytes of one malformed HTTP request (``Connection: close``), and whether
        they end where the request says it ends (else the sender half-closes: no more
        comes, and a server that waits for more would wait for ever)."""
        kind = self.rng.choice((self._garbage, self._bad_head, self._lying_length,
                                self._bad_signature, self._bad_body, self._bad_body))
        data = kind(host)
        return data, kind in (self._bad_signature, self._bad_body) or (
            kind == self._lying_length and self._declared <= self._sent)

    def _garbage(self, host: str) -> bytes:
        return self.rng.randbytes(self.rng.randint(1, 400))

    def _bad_head(self, host: str) -> bytes:
        line = self.rng.choice((b"GET", b"POST", b"BREW", b"G\x00T", b"")) + b" " + \
            self.rng.choice((b"/v1/batches", b"/\xff\xfe", b"*", b"/" + b"a" * 9000,
                             b"/v1/cards/%00/balances", b"")) + b" " + \
            self.rng.choice((b"HTTP/1.1", b"HTTP/9.9", b"HTTP/1.1 extra", b""))
        headers = [b"Host: " + host.encode(), b"Connection: close"]
        headers += self.rng.sample((b"No-Colon-Here", b"X-Big: " + b"x" * 70_000,
                                    b" leading: space", b"X-Ctl: \x01\x02",
                                    b"Transfer-Encoding: chunked", b"Content-Length: -5",
                                    b"Content-Length: 1, 2", b"Transfer-Encoding: gzip"),
                                   self.rng.randint(1, 3))
        return line + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + \
            self.rng.randbytes(self.rng.randint(0, 40))

    def _lying_length(self, host: str) -> bytes:
        body = json.dumps({"script_ids": ["x"], "at": _now().isoformat()}).encode()
        length = self.rng.choice((0, len(body) // 2, len(body) + 100, 10**12))
        self._declared, self._sent = length, len(body)
        return self._request(host, "POST", "/v1/scripts/delivered", body,
                             extra=[f"Content-Length: {length}".encode()], length=False)

    def _bad_signature(self, host: str) -> bytes:
        body = json.dumps(self._body()).encode()
        path = self.rng.choice(_ROUTES)
        signed = self._signed("POST", path)
        headers = http_auth.request_headers(self.key, signed, body)
        name = self.rng.choice(sorted(headers))
        change = self.rng.choice(("drop", "double", "garble"))
        if change == "drop":
            del headers[name]
        elif change == "garble":
            headers[name] = self.rng.choice(("", "0" * 64, "Z" * 300, "2025-13-40T99:99:99Z",
                                             "\u00e9t\u00e9", headers[name][::-1]))
        lines = [f"{k}: {v}".encode() for k, v in headers.items()]
        if change == "double":
            lines.append(f"{name}: {headers[name]}".encode())
        return self._request(host, "POST", path, body, extra=lines, signed=False)

    def _bad_body(self, host: str) -> bytes:
        path = self.rng.choice(_ROUTES)
        choice = self.rng.random()
        if choice < 0.25:
            body = self.rng.randbytes(self.rng.randint(0, 200))
        elif choice < 0.4:
            body = b"[" * self.rng.randint(100, 5000) + b"]" * self.rng.randint(0, 100)
        else:
            body = json.dumps(self._body(), default=str).encode()
        return self._request(host, "POST", path, body)

    def _body(self) -> Any:
        doc: dict[str, Any] = {"card_id": "C1000001", "purchase_fen": 100, "at": _now().isoformat(),
                               "method": "debit", "script_ids": ["limit/1"], "amount": 1200,
                               "stan": 5, "sent_at": _now().isoformat(), "batch_id": "B-1",
                               "records": [], "format": "dualcard-terminal-batch/1",
                               "terminal_id": self.merchant.terminal_hex}
        for key in self.rng.sample(sorted(doc), self.rng.randint(1, 4)):
            doc[key] = _odd_json(self.rng)
        if self.rng.random() < 0.2:
            return _odd_json(self.rng)
        return doc

    def _signed(self, method: str, path: str) -> http_auth.Signed:
        return http_auth.Signed(method, path, self.merchant.terminal_hex,
                                http_auth.format_timestamp(_now()), uuid.uuid4().hex)

    def _request(self, host: str, method: str, path: str, body: bytes, *,
                 extra: list[bytes] | None = None, length: bool = True,
                 signed: bool = True) -> bytes:
        headers = [f"Host: {host}".encode(), b"Connection: close",
                   b"Content-Type: application/json", *(extra or [])]
        if length:
            headers.append(f"Content-Length: {len(body)}".encode())
        if signed:
            headers += [f"{k}: {v}".encode() for k, v in http_auth.request_headers(
                self.key, self._signed(method, path), body).items()]
        return f"{method} {path} HTTP/1.1\r\n".encode() + b"\r\n".join(headers) + \
            b"\r\n\r\n" + body


def _odd_json(rng: random.Random) -> Any:
    return rng.choice((None, True, -1, 2**70, 1.5, "", "x" * 5000, "\u0000\ud7ff", [], {},
                       [[[]]], {"a": {"b": None}}, "2025-02-30T25:00:00", -(2**63), "NaN"))


def _framed(body: bytes) -> bytes:
    return struct.pack(">H", len(body) & 0xFFFF) + body


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _digits(rng: random.Random, size: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(size))


#: per field, a broken value (None: the field is left out)
_BREAKERS: dict[str, Callable[[random.Random], Any]] = {
    "2": lambda r: r.choice((None, "0", _digits(r, 19), "6200000000000006")),
    "3": lambda r: r.choice((None, _digits(r, 6), "300000", "910000", "999999")),
    "4": lambda r: r.choice((None, "000000000000", "999999999999", _digits(r, 12))),
    "7": lambda r: r.choice((None, "0000000000", "1332256161", _digits(r, 10))),
    "11": lambda r: r.choice((None, "000000", _digits(r, 6))),
    "23": lambda r: r.choice((None, _digits(r, 3))),
    "41": lambda r: r.choice((None, "000000000000", "ZZZZZZZZZZZZ", "0000000A0002")),
    "42": lambda r: r.choice((None, "", "shop-b", "x" * 64, "shop a")),
    "49": lambda r: r.choice((None, "000", "840", _digits(r, 3))),
    "52": lambda r: r.randbytes(8),
    "55": lambda r: r.choice((None, b"", r.randbytes(r.randint(1, 60)), _ICC[:5],
                              bytes.fromhex("9F2610") + bytes(16), b"\x9f" * 30)),
    "62": lambda r: r.choice((None, "", "C" * 64, "nobody")),
    "63": lambda r: r.choice(("+", "-x y", "+" + "a" * 200, " ")),
    "70": lambda r: r.choice((None, "000", "999", _digits(r, 3))),
    "90": lambda r: r.choice((None, "0" * 42, "0100" + _digits(r, 38), _digits(r, 42))),
    "123": lambda r: r.choice(("", "\t" * 10, "x" * 255)),
    "t": lambda r: r.choice(("0200", "0220", "0221", "0401", "0800", "0100", "0101")),
}


# -- sending -----------------------------------------------------------------------------------


def _exchange(address: tuple[str, int], data: bytes, half_close: bool = True) -> bytes:
    """Send ``data`` (then say no more, if ``half_close``), read until the service closes;
    what it sent back."""
    with socket.create_connection(address, timeout=_WAIT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # the service closed before it had everything: its right
            pass
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        return bytes(received)


def _sent(address: tuple[str, int], data: bytes, half_close: bool) -> bytes | str:
    """What came back, or why nothing could (the service is gone, or hangs)."""
    try:
        return _exchange(address, data, half_close)
    except ConnectionRefusedError:
        return "refused to connect"
    except TimeoutError:
        return "no answer in time"


def _outcomes(door: str, received: bytes | str) -> list[str]:
    if isinstance(received, str):
        return [received]
    return iso_outcomes(received) if door == "iso" else [http_outcome(received)]


def iso_outcomes(received: bytes) -> list[str]:
    """Each answer's response code (``rc 30``), then ``closed`` if nothing came back."""
    out, rest = [], received
    while len(rest) >= 2:
        length = struct.unpack(">H", rest[:2])[0]
        body, rest = rest[2:2 + length], rest[2 + length:]
        try:
            out.append(f"rc {decode(body)['39']}")
        except Exception:
            return [*out, "garbage back"]
    return out if out and not rest else [*out, "closed"] if not rest else [*out, "garbage back"]


def http_outcome(received: bytes) -> str:
    """The answer's status (``400``), or ``closed`` if nothing came back."""
    if not received:
        return "closed"
    head = received.split(b"\r\n", 1)[0].split(b" ")
    if len(head) < 2 or not head[0].startswith(b"HTTP/1.") or not head[1].isdigit():
        return "garbage back"
    return head[1].decode()


class _Genuine:
    """The honest terminal the campaign interleaves: an echo, a signed HTTP query."""

    def __init__(self, target: Target) -> None:
        host, port = target.http
        self.link = NetworkLink(*target.iso, merchant=target.merchant, key=target.key,
                                timeout=_WAIT, stan=StanCounter(1))
        self.http = HTTPBackOffice(f"http://{host}:{port}", terminal_id=target.merchant.terminal_hex,
                                   key=target.key, timeout=_WAIT)

    def check(self, tally: Tally, iso: bool) -> None:
        try:
            if iso:
                self.link.echo()  # on a new connection each time
            else:
                self.http.batch_status(f"no-such-batch-{uuid.uuid4().hex[:8]}")
            tally.count(tally.genuine, "ok")
        except Exception as exc:
            tally.count(tally.genuine, "failed")
            tally.failures.append(f"{'ISO' if iso else 'HTTP'}: {type(exc).__name__}: {exc}")
        finally:
            self.link.close()
            self.http.close()


def run_campaign(target: Target, *, frames: int, bodies: int, every: int = 100,
                 seed: int = 0, workers: int = 4,
                 progress: Callable[[int], None] | None = None) -> Tally:
    """Send the cases of ``seed`` (module docstring) with ``workers`` threads at once."""
    tally, cases, genuine = Tally(), Cases(seed, target.merchant, target.key), _Genuine(target)
    host = f"{target.http[0]}:{target.http[1]}"

    slots = threading.BoundedSemaphore(workers * 4)  # cases made, not yet sent

    def case(door: str, data: bytes, complete: bool) -> None:
        try:
            address = target.iso if door == "iso" else target.http
            outcomes = _outcomes(door, _sent(address, data, not complete))
            tally.count(tally.iso if door == "iso" else tally.http, *outcomes)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for n, (door, data, complete) in enumerate(_interleaved(cases, frames, bodies, host)):
            slots.acquire()
            pool.submit(case, door, data, complete)
            if (n + 1) % every == 0:
                genuine.check(tally, iso=(n // every) % 2 == 0)
                if progress is not None:
                    progress(n + 1)
    genuine.check(tally, iso=True)
    genuine.check(tally, iso=False)
    tally.alive = target.alive()
    return tally


def _interleaved(cases: Cases, frames: int, bodies: int,
                 host: str) -> Iterator[tuple[str, bytes, bool]]:
    """ISO cases and HTTP cases in turn (the longer list's tail at the end); an ISO case
    is always half-closed once sent (the frames say where each message ends)."""
    for n in range(max(frames, bodies)):
        if n < frames:
            yield "iso", cases.iso(), False
        if n < bodies:
            yield "http", *cases.http(host)


# -- a sample host to aim at -------------------------------------------------------------------


@contextlib.contextmanager
def sample_host(directory: Path, *, db_url: str | None = None) -> Iterator[Target]:
    """``dualcard host serve --plain`` (both doors, free ports) in its own process over the
    sample alliance (SQLite in ``directory`` unless ``db_url``), its terminal keyed; stopped
    by SIGTERM on leaving."""
    files = write_sample_terminal(directory)
    url = db_url or f"sqlite:///{files.ledger}"
    if db_url is not None:
        sample_alliance(db_url).close()
    office_db = Database(url)
    try:
        create_service_schema(office_db)
        key = register_terminal(office_db, MERCHANT.terminal_hex, at=OPENED).key
    finally:
        office_db.dispose()
    command = [sys.executable, "-m", "host.cli.main", "host", "serve", "--db", url,
               "--iso-port", "0", "--http-port", "0", "--bank-id", "bank",
               "--payment-keys", str(files.payment_keys), "--points-keys", str(files.points_keys),
               "--card-keys", str(files.card_keys), "--log-level", "error", "--plain"]
    with (directory / "service.log").open("w") as log:
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            bound = [_address(server.stdout.readline()) for _ in range(2)]  # type: ignore[union-attr]
            yield Target(bound[0], bound[1], MERCHANT, key, lambda: server.poll() is None)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            server.stdout.close()  # type: ignore[union-attr]


def _address(banner: str) -> tuple[str, int]:
    """The address of a ``dualcard host: … on HOST:PORT`` line."""
    host, _, port = banner.strip().rsplit(" ", 1)[-1].rpartition(":")
    if not port.isdigit():
        raise RuntimeError(f"the service did not start: {banner!r}")
    return host, int(port)
