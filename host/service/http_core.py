"""The HTTP front door's handler, sans I/O: one request in (:class:`HTTPCall`), its answer out.

Theory of operation. The door is the trust boundary, as the ISO 8583 one is (docs/trust.md,
:mod:`.core`), and shares its terminal keys, its clock and its window. Each request goes
through these steps, and the first that fails answers it:

1. its four signing headers are read (:mod:`.http_auth`): else 401 ``unauthenticated``;
2. the terminal they name has a key: else 401 ``unknown_terminal``; the MAC verifies under
   it: else 401 ``bad_mac``. Nothing authenticated, nothing signed: these answers carry no
   MAC. A terminal the operator blocked: 403 ``terminal_blocked``, without a MAC. With
   mutual TLS, the terminal is the one the connection's certificate names: else 403
   ``certificate_mismatch``, without a MAC;
3. the timestamp is within the window of the service's clock: else 401
   ``stale_timestamp`` (from here every answer carries the terminal's MAC);
4. a POST claims its idempotency key (:mod:`.idempotency`): the same request answered
   before gets that answer again (``Idempotent-Replayed: true``), a key used for another
   request 409 ``idempotency_key_reused``, one being handled 409 ``in_flight``;
5. the operation's handler (:mod:`.operations`) reads the body (400 ``malformed_json``,
   422 ``invalid_field`` naming the field), refuses a request that speaks for another
   terminal or merchant (403), and calls the in-process link. What the back office
   refuses is answered as data (:data:`_REFUSALS`); the database out of reach is 503
   ``unavailable``; anything else is 500 ``internal`` with an error id, logged with its
   traceback, and never shown to the terminal.

Refusals at steps 1–4 reach no handler and post nothing. :meth:`HTTPCore.handle` never
raises. Every request is logged as one structured record: method, route, terminal,
status, code, duration; never a body, a PAN, a key or a MAC.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError

from apdu_specs.documents import DocumentError
from host.points.errors import PointsError, PurseMACError
from host.records.errors import (
    BackOfficeError,
    BatchRejectedError,
    IdReusedError,
    NotFoundError,
    ValidationError,
)

from . import http_auth
from .api import JSONFieldError
from .core import LOGGER, ServiceCore
from .http_auth import Signed, parse_timestamp, request_mac, response_mac, signed_of
from .idempotency import ClaimState, IdempotencyStore, request_digest
from .operations import Caller, ForbiddenRequestError, HTTPCall, Operation
from .terminals import TerminalKey

__all__ = ["HTTPAnswer", "HTTPCore", "error_body"]

REPLAYED = "Idempotent-Replayed"


@dataclass
class HTTPAnswer:
    """The status, JSON body and headers to send; ``fields`` is what the log line says."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Refused(Exception):
    """Answer ``status`` with the error ``code`` now, before any handler."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


#: what the back office and the handlers refuse, as (type, status, code); first match wins
_REFUSALS: tuple[tuple[type[Exception], int, str], ...] = (
    (DocumentError, 400, "malformed_json"),
    (JSONFieldError, 422, "invalid_field"),
    (ForbiddenRequestError, 403, ""),  # the error's own code
    (BatchRejectedError, 422, "batch_rejected"),
    (IdReusedError, 409, "id_reused"),
    (NotFoundError, 404, "not_found"),
    (PurseMACError, 422, "purse_mac"),
    (ValidationError, 422, "invalid_field"),
    (DBAPIError, 503, "unavailable"),
    (BackOfficeError, 422, "refused"),
    (PointsError, 422, "refused"),
)


class HTTPCore:
    """The HTTP handler over the ISO door's core (its services, keys, clock and window)."""

    def __init__(self, core: ServiceCore, *, idempotency: IdempotencyStore | None = None,
                 logger: logging.Logger = LOGGER) -> None:
        self.core = core
        self.idempotency = idempotency or IdempotencyStore(core.services.db)
        self.logger = logger

    def handle(self, operation: Operation, call: HTTPCall) -> HTTPAnswer:
        """The answer to ``call`` on ``operation``'s route. Never raises."""
        started = time.perf_counter()
        trace: dict[str, Any] = {"http": call.method, "route": operation.path, "terminal": ""}
        try:
            answer = self._handle(operation, call, trace)
        except _Refused as refusal:
            answer = HTTPAnswer(refusal.status,
                                _json(error_body(refusal.code, refusal.reason)))
            trace["code"] = refusal.code
        except Exception as exc:  # the database behind the keys, say: nothing was decided
            status, doc = self._failure(exc, trace)
            answer = HTTPAnswer(status, _json(doc))
        answer.fields = {**trace, "status": answer.status,
                         "ms": round((time.perf_counter() - started) * 1000, 3)}
        self._log(answer)
        return answer

    def _handle(self, operation: Operation, call: HTTPCall,
                trace: dict[str, Any]) -> HTTPAnswer:
        signed = signed_of(call.method, call.target, call.headers)
        if isinstance(signed, str):
            raise _Refused(401, "unauthenticated", signed)
        trace["terminal"] = signed.terminal_id
        terminal = self._authenticate(signed, call)
        now = self.core.clock()
        try:
            status, body, headers = self._admitted(operation, call, signed, terminal, now, trace)
        except Exception as exc:
            status, doc = self._failure(exc, trace)
            body, headers = _json(doc), {}
        headers[http_auth.MAC] = response_mac(terminal.key, signed, status, body)
        return HTTPAnswer(status, body, headers)

    def _authenticate(self, signed: Signed, call: HTTPCall) -> TerminalKey:
        terminal = self.core.terminals.get(signed.terminal_id)
        if terminal is None:
            raise _Refused(401, "unknown_terminal", "no key for this terminal")
        given = call.headers.get(http_auth.MAC.lower(), "")
        if not http_auth.mac_matches(request_mac(terminal.key, signed, call.body), given):
            raise _Refused(401, "bad_mac", "the MAC does not verify")
        if terminal.blocked:
            raise _Refused(403, "terminal_blocked", "the operator blocked this terminal")
        if call.certified is not None and call.certified != terminal.terminal_id:
            raise _Refused(403, "certificate_mismatch",
                           f"the TLS certificate names terminal {call.certified or 'none'}")
        sent = parse_timestamp(signed.timestamp)
        assert sent is not None  # signed_of checked it
        if not self.core.replay.in_window(sent, self.core.clock()):
            raise _Refused(401, "stale_timestamp", "the timestamp is outside the window")
        return terminal

    def _admitted(self, operation: Operation, call: HTTPCall, signed: Signed,
                  terminal: TerminalKey, now: dt.datetime,
                  trace: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        caller = Caller(terminal, self.core.services, now)
        if not operation.stored:
            status, body = self._run(operation, caller, call, trace)
            return status, body, {}
        store, key = self.idempotency, signed.idempotency_key
        claim = store.claim(terminal.terminal_id, key,
                            request_digest(call.method, call.target, call.body), now=now)
        if claim.state is ClaimState.ANSWERED:
            trace["code"] = "replayed"
            return claim.status or 200, claim.body, {REPLAYED: "true"}
        if claim.state is not ClaimState.TAKEN:
            conflict = claim.state is ClaimState.CONFLICT
            code = "idempotency_key_reused" if conflict else "in_flight"
            trace["code"] = code
            message = ("the key was used for another request" if conflict
                       else "the request under this key is being handled; retry later")
            return 409, _json(error_body(code, message)), {} if conflict else {"Retry-After": "1"}
        status, body = self._run(operation, caller, call, trace)
        self._keep(terminal.terminal_id, key, status, body)
        return status, body, {}

    def _keep(self, terminal_id: str, key: str, status: int, body: bytes) -> None:
        """Store the answer (a 5xx releases the key); a failure here is logged only."""
        try:
            if status >= 500:
                self.idempotency.release(terminal_id, key)
            else:
                self.idempotency.complete(terminal_id, key, status, body)
        except Exception as exc:  # the answer stands; a retry after the lease redoes it
            self.logger.warning("answer not kept: %s", type(exc).__name__,
                                extra={"fields": {"event": "idempotency", "terminal": terminal_id,
                                                  "reason": type(exc).__name__}})

    def _run(self, operation: Operation, caller: Caller, call: HTTPCall,
             trace: dict[str, Any]) -> tuple[int, bytes]:
        try:
            status, doc = operation.handler(caller, call)
        except Exception as exc:
            status, doc = self._failure(exc, trace)
        return status, _json(doc)

    def _failure(self, exc: Exception, trace: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The answer to a handler's error: a refusal as data, else 500 with an error id."""
        for kind, status, code in _REFUSALS:
            if isinstance(exc, kind):
                code = code or getattr(exc, "code", "forbidden")
                trace["code"], trace["reason"] = code, str(exc)[:200]
                return status, error_body(code, _message(exc), **_details(exc))
        error_id = uuid.uuid4().hex
        trace["code"], trace["error_id"] = "internal", error_id
        self.logger.error("internal error %s", type(exc).__name__, exc_info=exc,
                          extra={"fields": {"event": "internal_error", "error_id": error_id,
                                            "error": type(exc).__name__}})
        return 500, error_body("internal", "internal error", error_id=error_id)

    def _log(self, answer: HTTPAnswer) -> None:
        level = logging.INFO if answer.status < 400 else logging.WARNING
        if self.logger.isEnabledFor(level):
            fields = answer.fields
            self.logger.log(level, "%s %s %s %s", fields["http"], fields["route"],
                            answer.status, fields.get("code", ""), extra={"fields": fields})


def _message(exc: Exception) -> str:
    if isinstance(exc, DBAPIError):  # its text names the statement: not for the terminal
        return "the back office database is out of reach; retry later"
    return str(exc)


def _details(exc: Exception) -> dict[str, Any]:
    """What a client acts on beyond the code: the field, a batch's rejections."""
    if isinstance(exc, JSONFieldError):
        return {"field": exc.field}
    if isinstance(exc, DocumentError):
        return {"field": "body"}
    if isinstance(exc, BatchRejectedError):
        return {"batch_id": exc.batch_id, "rejections": [
            {"record": r.record_id, "reason": r.reason} for r in exc.rejections]}
    if isinstance(exc, (BackOfficeError, PointsError)) and not isinstance(exc, NotFoundError):
        reason = getattr(exc, "reason", None)  # the settlement centre's short code, if any
        return {"type": type(exc).__name__, **({"reason": reason} if reason else {})}
    return {}
