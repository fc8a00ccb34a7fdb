"""The HTTP door's trust boundary through a real uvicorn server on loopback, on SQLite and
PostgreSQL: a request speaks for the terminal whose key signed it, within the window, for
its own merchant, once per idempotency key; every refusal is a JSON error naming its
reason, and posts nothing. The stripe authorisation is the request used where a test needs
to see what was posted: each one the service acts on is a row in the issuer's records."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from host.payment.stripe import encode_stripe
from host.pos.network_link import HostUnreachableError, HTTPRefusedError, NetworkLink
from host.service import http_auth
from host.service.core import ServiceCore
from host.service.runner import ServiceHost
from host.service.tcp_server import serve_in_thread
from host.service.terminals import register_terminal
from host.testing.personalise import SAMPLE
from tests.pos.conftest import MERCHANT, START

from .conftest import Host
from .http_helpers import answer_verifies, error, send, signed

pytestmark = pytest.mark.sim

STRIPE = "/v1/stripe-authorisations"


def _swipe(amount: int = 12_00) -> dict[str, Any]:
    tracks = encode_stripe(SAMPLE.debit, SAMPLE.payment_keys)
    return {"track2": tracks.track2[: tracks.track2.index("?") + 1], "amount": amount,
            "card_id": SAMPLE.identity}


def _posted(service: Host) -> int:
    return len(service.authorisations())


def _refused(service: Host, response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    found = error(response)
    assert found["code"] == code and found["message"]
    assert _posted(service) == 0
    return found


# -- who is asking ---------------------------------------------------------------------------


def test_a_signed_request_is_answered_with_the_services_mac(service: Host) -> None:
    response = send(service.http_url or "", service.terminal.key, "POST", STRIPE, _swipe())
    assert response.status_code == 200, response.text
    assert response.json()["decision"] == "approve" and answer_verifies(service.terminal.key,
                                                                       response)
    [row] = service.authorisations()
    assert (row.kind, row.terminal_id, row.merchant_id) == ("stripe", MERCHANT.terminal_hex,
                                                            "shop-a")


@pytest.mark.parametrize("missing", [http_auth.TERMINAL, http_auth.TIMESTAMP,
                                     http_auth.IDEMPOTENCY_KEY, http_auth.MAC])
def test_a_request_without_a_signing_header_is_401(service: Host, missing: str) -> None:
    body = json.dumps(_swipe()).encode()
    headers = signed(service.terminal.key, "POST", STRIPE, body)
    del headers[missing]
    response = httpx.post(f"{service.http_url}{STRIPE}", content=body, headers=headers)
    found = _refused(service, response, 401, "unauthenticated")
    assert missing in found["message"] and http_auth.MAC not in response.headers


def test_a_bad_mac_a_stale_time_and_an_unknown_terminal_are_401(service: Host) -> None:
    base, key = service.http_url or "", service.terminal.key
    body = json.dumps(_swipe()).encode()
    headers = signed(key, "POST", STRIPE, body)
    tampered = json.dumps(_swipe(99_00)).encode()  # the body changed after signing
    found = httpx.post(base + STRIPE, content=tampered, headers=headers)
    _refused(service, found, 401, "bad_mac")
    assert http_auth.MAC not in found.headers  # nothing authenticated: nothing signed
    _refused(service, send(base, bytes(16), "POST", STRIPE, _swipe()), 401, "bad_mac")
    late = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)
    _refused(service, send(base, key, "POST", STRIPE, _swipe(), when=late), 401,
             "stale_timestamp")
    _refused(service, send(base, key, "POST", STRIPE, _swipe(), terminal="0000000C0001"), 401,
             "unknown_terminal")
    moved = headers | {http_auth.TIMESTAMP: http_auth.format_timestamp(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))}  # under the MAC too
    _refused(service, httpx.post(base + STRIPE, content=body, headers=moved), 401, "bad_mac")
    twice = [*headers.items(), (http_auth.TERMINAL, "0000000B0001")]  # which one speaks?
    _refused(service, httpx.post(base + STRIPE, content=body, headers=twice), 401,
             "unauthenticated")


def test_another_terminals_id_with_ones_own_key_is_refused(service: Host) -> None:
    from host.backoffice import Member, MemberKind, Ratio

    service.office.add_members([Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                       two_way=Ratio(1, 10), terminals=("0000000B0001",))],
                               at=START)
    register_terminal(service.office.db, "0000000B0001", at=START)
    _refused(service, send(service.http_url or "", service.terminal.key, "POST", STRIPE,
                           _swipe(), terminal="0000000B0001"), 401, "bad_mac")


def test_a_terminal_acts_for_its_own_merchant_only(service: Host) -> None:
    base, key = service.http_url or "", service.terminal.key
    quote = {"card_id": SAMPLE.identity, "purchase_fen": 100_00, "at": START.isoformat(),
             "method": "debit"}
    mine = send(base, key, "POST", "/v1/earn-quotes", quote | {"merchant_id": "shop-a"})
    assert mine.status_code == 200 and [q["purse"] for q in mine.json()["quotes"]] == [
        "consumption", "bank"]
    other = send(base, key, "POST", "/v1/earn-quotes", quote | {"merchant_id": "shop-b"})
    assert other.status_code == 403 and error(other)["code"] == "other_merchant"
    assert answer_verifies(key, other)  # an authenticated refusal is signed


# -- once per idempotency key ------------------------------------------------------------------


def test_a_retry_under_the_same_key_gets_the_same_answer_and_posts_once(service: Host) -> None:
    base, key, idem = service.http_url or "", service.terminal.key, uuid.uuid4().hex
    first = send(base, key, "POST", STRIPE, _swipe(), idempotency_key=idem)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)  # signed anew, later
    retry = send(base, key, "POST", STRIPE, _swipe(), idempotency_key=idem, when=later)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content and retry.headers["Idempotent-Replayed"] == "true"
    assert answer_verifies(key, retry)  # signed for the retry, not the first request
    assert _posted(service) == 1
    other = send(base, key, "POST", STRIPE, _swipe(13_00), idempotency_key=idem)
    assert other.status_code == 409 and error(other)["code"] == "idempotency_key_reused"
    assert _posted(service) == 1


def test_a_replayed_request_is_answered_from_the_store_and_posts_once(service: Host) -> None:
    body = json.dumps(_swipe()).encode()
    headers = signed(service.terminal.key, "POST", STRIPE, body)
    url = f"{service.http_url}{STRIPE}"
    answers = [httpx.post(url, content=body, headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {200} and len({a.content for a in answers}) == 1
    assert _posted(service) == 1


def test_two_service_processes_share_the_keys(service: Host, tmp_path: Path) -> None:
    """A retry that reaches another process of the service gets the stored answer."""
    other = ServiceCore(service.core.services)
    with serve_in_thread(ServiceHost(other)) as bound:
        second = f"http://{bound['http'][0]}:{bound['http'][1]}"
        idem, key = uuid.uuid4().hex, service.terminal.key
        first = send(service.http_url or "", key, "POST", STRIPE, _swipe(), idempotency_key=idem)
        retry = send(second, key, "POST", STRIPE, _swipe(), idempotency_key=idem)
    assert first.status_code == 200 and retry.content == first.content
    assert _posted(service) == 1


class _LosingProxy:
    """A loopback proxy that forwards the first connection's request but never its answer
    (the connection is cut once the service has answered); the next ones pass."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()
        self.cut = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        first = True
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, first), daemon=True).start()
            first = False

    def _serve(self, client: socket.socket, lose: bool) -> None:
        with client, socket.create_connection(self.upstream) as server:
            pump = threading.Thread(target=_pipe, args=(client, server), daemon=True)
            pump.start()
            if lose:
                server.recv(65536)  # the service answered: the terminal never hears it
                self.cut += 1
                return
            _pipe(server, client)

    def close(self) -> None:
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass


@pytest.fixture
def losing(sqlite_service: Host) -> Iterator[tuple[Host, _LosingProxy]]:
    assert sqlite_service.http_url is not None
    host, port = sqlite_service.http_url.removeprefix("http://").split(":")
    proxy = _LosingProxy((host, int(port)))
    yield sqlite_service, proxy
    proxy.close()


def test_the_link_retries_a_lost_answer_under_the_same_key(
        losing: tuple[Host, _LosingProxy]) -> None:
    service, proxy = losing
    from apdu_specs.magstripe.tracks import Track2

    link = NetworkLink(*service.address, merchant=MERCHANT, key=service.terminal.key,
                       http=f"http://{proxy.address[0]}:{proxy.address[1]}", timeout=10)
    with link:
        decision = link.authorise_stripe(Track2.decode(_swipe()["track2"], check_luhn=False),
                                         12_00, card_id=SAMPLE.identity)
    assert proxy.cut == 1 and decision.approved
    [row] = service.authorisations()  # acted on once, answered twice
    assert row.id == decision.authorisation_id


def test_a_service_out_of_reach_is_a_connection_error(sqlite_service: Host) -> None:
    from apdu_specs.magstripe.tracks import Track2

    unused = socket.create_server(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    link = NetworkLink(*sqlite_service.address, merchant=MERCHANT, attempts=2, timeout=2,
                       key=sqlite_service.terminal.key, http=f"http://127.0.0.1:{port}")
    with link, pytest.raises(HostUnreachableError) as raised:
        link.authorise_stripe(Track2.decode(_swipe()["track2"], check_luhn=False), 1_00)
    assert isinstance(raised.value, ConnectionError) and "after 2 attempts" in str(raised.value)


def test_a_link_with_the_wrong_key_is_told_so(sqlite_service: Host) -> None:
    with sqlite_service.link(key=bytes(16)) as link, pytest.raises(HTTPRefusedError) as raised:
        link.load_key_index(SAMPLE.identity, 1)  # type: ignore[arg-type]
    assert (raised.value.status, raised.value.code) == (401, "bad_mac")


# -- the door itself ---------------------------------------------------------------------------


def test_bodies_that_are_not_what_the_route_reads_name_the_field(service: Host) -> None:
    base, key = service.http_url or "", service.terminal.key
    cases = [(b"{not json", 400, "malformed_json", "body"),
             ([1, 2], 400, "malformed_json", "body"),
             ({"amount": 1}, 422, "invalid_field", "track2"),
             (_swipe() | {"amount": "12.00"}, 422, "invalid_field", "amount"),
             (_swipe() | {"track2": ";123?"}, 422, "invalid_field", "track2")]
    for doc, status, code, field in cases:
        found = _refused(service, send(base, key, "POST", STRIPE, doc), status, code)
        assert found["field"] == field
    load = send(base, key, "POST", "/v1/loads", {"card_id": SAMPLE.identity, "when": "x",
                                                 "init": {"purse": "gold"}})
    assert load.status_code == 422 and error(load)["field"] == "init.purse"


def test_routes_health_metrics_and_errors_answer_json(service: Host) -> None:
    base = service.http_url or ""
    assert httpx.get(base + "/health").json() == {"status": "ok"}
    unknown = httpx.get(base + "/v1/nothing")
    assert unknown.status_code == 404 and error(unknown)["code"] == "not_found"
    wrong = httpx.get(base + STRIPE)
    assert wrong.status_code == 405 and error(wrong)["code"] == "method_not_allowed"
    huge = httpx.post(base + "/v1/batches", content=b"x" * (33 * 1024 * 1024))
    assert huge.status_code == 413 and error(huge)["code"] == "too_large"
    send(base, service.terminal.key, "POST", STRIPE, _swipe())
    metrics = httpx.get(base + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert ('dualcard_requests_total{door="http",route="/v1/stripe-authorisations",'
            'method="POST",status="200"} 1') in text
    assert 'route="unmatched",method="GET",status="404"} 1' in text
    assert 'route="/v1/stripe-authorisations",method="GET",status="405"} 1' in text
    assert 'dualcard_request_seconds_count{door="http",route="/v1/stripe-authorisations"} 2' \
        in text  # the 405 and the 200


class _Faulty:
    """Services whose earn quotes fail as told: a bug, or the database out of reach."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failure: Exception | None = None

    @property
    def db(self) -> Any:
        return self.inner.db

    @property
    def vault(self) -> Any:
        return self.inner.vault

    def link(self, terminal_id: str) -> Any:
        faulty, inner = self, self.inner.link(terminal_id)

        class _Link:
            def earn_quotes(self, **kwargs: Any) -> Any:
                if faulty.failure is not None:
                    raise faulty.failure
                return inner.earn_quotes(**kwargs)

        return _Link()


def test_a_failure_is_500_or_503_without_its_traceback_and_the_key_is_released(
        sqlite_host: Host) -> None:
    from sqlalchemy.exc import OperationalError

    faulty = _Faulty(sqlite_host.core.services)
    quote = {"card_id": SAMPLE.identity, "purchase_fen": 100_00, "at": START.isoformat()}
    key, idem = sqlite_host.terminal.key, uuid.uuid4().hex
    with serve_in_thread(ServiceHost(ServiceCore(faulty))) as bound:  # type: ignore[arg-type]
        base = f"http://{bound['http'][0]}:{bound['http'][1]}"
        faulty.failure = RuntimeError("secret detail of a bug")
        bug = send(base, key, "POST", "/v1/earn-quotes", quote, idempotency_key=idem)
        faulty.failure = OperationalError("SELECT secret", {}, Exception("gone"))
        down = send(base, key, "POST", "/v1/earn-quotes", quote, idempotency_key=idem)
        faulty.failure = None
        retried = send(base, key, "POST", "/v1/earn-quotes", quote, idempotency_key=idem)
    assert bug.status_code == 500 and error(bug)["code"] == "internal"
    assert len(error(bug)["error_id"]) == 32 and "secret" not in bug.text
    assert "Traceback" not in bug.text and answer_verifies(key, bug)
    assert down.status_code == 503 and error(down)["code"] == "unavailable"
    assert "secret" not in down.text
    assert retried.status_code == 200 and retried.json()["quotes"]  # handled afresh


class _Impostor(http.server.BaseHTTPRequestHandler):
    """Answers every POST 200 with quotes it makes up, without the service's MAC."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"quotes": [{"purse": "consumption", "points": 9999,
                                       "issuer_id": "shop-a", "agreement_id": "x"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header(http_auth.MAC, "00" * 16)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_answer_without_the_services_mac_is_not_believed(sqlite_host: Host) -> None:
    from host.pos.link import PaymentMethod
    from host.pos.network_link import AnswerNotAuthenticatedError

    impostor = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Impostor)
    threading.Thread(target=impostor.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{impostor.server_address[1]}"
        with sqlite_host.link(http=base) as link, \
                pytest.raises(AnswerNotAuthenticatedError, match="without a valid MAC"):
            link.earn_quotes(merchant_id="shop-a", card_id=SAMPLE.identity,
                             method=PaymentMethod.DEBIT, purchase_fen=1_00, at=START)
    finally:
        impostor.shutdown()
        impostor.server_close()


def test_the_server_keeps_an_idle_connection_longer_than_its_clients_do() -> None:
    """A client must drop an idle connection before the server closes it: with both at
    5 s (uvicorn's and httpx's defaults) a request sent as the server closes is answered
    by nothing ("Server disconnected without sending a response")."""
    from starlette.applications import Starlette

    from host.service.http_app import KEEP_ALIVE_S, HTTPServer

    server = HTTPServer(Starlette())
    with serve_in_thread(server):
        assert server._server is not None
        assert server._server.config.timeout_keep_alive == KEEP_ALIVE_S
    assert 2 * (httpx.Limits().keepalive_expiry or 0) <= KEEP_ALIVE_S
