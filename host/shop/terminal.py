"""The shop's server as a merchant terminal on the service host's HTTP door: every request
signed with the terminal's key, every answer's MAC checked (docs/host.md §9)."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from host.service import http_auth

from .errors import GatewayRefusalError

__all__ = ["MerchantTerminal"]


@dataclass
class MerchantTerminal:
    """``base``: the service's HTTP door (``http://127.0.0.1:8583``); ``tls``: the client
    context for a door that asks for the terminal's certificate (mutual TLS); ``clock``:
    the time requests are signed with (the service's replay window holds them to its own)."""

    base: str
    terminal_id: str
    key: bytes
    timeout: float = 30.0
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC),
                                             repr=False)

    def __repr__(self) -> str:  # never the key
        return f"MerchantTerminal({self.terminal_id} at {self.base})"

    def call(self, method: str, target: str, doc: dict[str, Any] | None = None
             ) -> tuple[int, dict[str, Any]]:
        """One signed request; the status and the JSON answer (its MAC verified)."""
        body = b"" if doc is None else json.dumps(doc).encode()
        signed = http_auth.Signed(method, target, self.terminal_id,
                                  http_auth.format_timestamp(self.clock()),
                                  uuid.uuid4().hex)
        headers = {**http_auth.request_headers(self.key, signed, body),
                   "Content-Type": "application/json"}
        try:
            reply = httpx.request(method, self.base + target, content=body, headers=headers,
                                  timeout=self.timeout, verify=self.tls if self.tls is not None else True)
        except httpx.HTTPError as exc:
            raise GatewayRefusalError("unreachable", f"the service at {self.base}: "
                                      f"{exc or type(exc).__name__}") from None
        expected = http_auth.response_mac(self.key, signed, reply.status_code, reply.content)
        if not http_auth.mac_matches(expected, reply.headers.get(http_auth.MAC, "")):
            raise GatewayRefusalError("bad_answer", f"the service's answer to {method} {target} "
                                    f"({reply.status_code}) carries no valid MAC")
        return reply.status_code, dict(reply.json())

    def expect(self, method: str, target: str, doc: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        """The answer of a request that must succeed; a refusal raises with its reason."""
        status, answer = self.call(method, target, doc)
        if status != 200:
            error = answer.get("error", {})
            raise GatewayRefusalError(str(error.get("reason") or error.get("code", status)),
                                    str(error.get("message", f"HTTP {status}")))
        return answer
