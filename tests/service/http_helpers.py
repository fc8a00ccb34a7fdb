"""Raw HTTP requests to the service's HTTP door, signed (or not) as a test wants them."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx

from host.service import http_auth
from tests.pos.conftest import MERCHANT


def body_of(doc: Any) -> bytes:
    return doc if isinstance(doc, bytes) else json.dumps(doc).encode()


def signed(key: bytes, method: str, target: str, body: bytes = b"", *,
           terminal: str = MERCHANT.terminal_hex, when: dt.datetime | None = None,
           idempotency_key: str | None = None) -> dict[str, str]:
    """The four signing headers of a request, as an honest terminal makes them."""
    stamp = http_auth.format_timestamp(when or dt.datetime.now(dt.UTC))
    what = http_auth.Signed(method, target, terminal, stamp, idempotency_key or uuid.uuid4().hex)
    return {**http_auth.request_headers(key, what, body), "Content-Type": "application/json"}


def send(base: str, key: bytes, method: str, target: str, doc: Any = None,
         **options: Any) -> httpx.Response:
    """One signed request on a new connection."""
    body = b"" if doc is None else body_of(doc)
    headers = signed(key, method, target, body, **options)
    return httpx.request(method, base + target, content=body, headers=headers, timeout=30)


def answer_verifies(key: bytes, response: httpx.Response) -> bool:
    """Whether the answer carries the service's MAC for the request it answers."""
    request = response.request
    what = http_auth.Signed(request.method, request.url.raw_path.decode(),
                            request.headers[http_auth.TERMINAL],
                            request.headers[http_auth.TIMESTAMP],
                            request.headers[http_auth.IDEMPOTENCY_KEY])
    return http_auth.mac_matches(
        http_auth.response_mac(key, what, response.status_code, response.content),
        response.headers.get(http_auth.MAC, ""))


def error(response: httpx.Response) -> dict[str, Any]:
    doc = response.json()
    assert set(doc) == {"error"}, doc
    return dict(doc["error"])
