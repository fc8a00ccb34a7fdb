"""The HTTP/JSON front door: a Starlette app around the sans-I/O handler, served by uvicorn.

The app only carries bytes: each route of :data:`~host.service.operations.OPERATIONS`
reads the request's body (at most ``max_body`` bytes: else 413), hands method, target,
headers and body to :meth:`HTTPCore.handle <host.service.http_core.HTTPCore.handle>` in the
service's handler threads (the ones the ISO 8583 door uses: the handlers wait on the
database), and writes the answer. Beside them, unauthenticated:

- ``GET /health``: 200 ``{"status": "ok"}`` while the database answers, else 503;
- ``GET /metrics``: the counters of both doors in the Prometheus text format;
- ``GET /v1/openapi.json``: the OpenAPI 3.1 description (:mod:`.openapi`).

An unknown route is 404 and a wrong method 405, as JSON errors; an error of the adapter
itself (the handler never raises) is 500 with an error id, logged, never a traceback.

:class:`HTTPServer` runs uvicorn's server on the caller's event loop, beside the ISO 8583
server: one process, one loop, one pool of handler threads; over TLS when given a
context, and with mutual TLS each request carries the terminal its connection's
certificate names to the handler (:class:`HTTPCall` ``certified``). Its :meth:`~HTTPServer.stop`
is uvicorn's graceful shutdown: stop accepting, close idle connections, let the requests
in flight finish and send their answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import Executor
from typing import Any

import uvicorn
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from .core import LOGGER
from .errors import ServiceConfigurationError
from .http_core import HTTPCore, error_body
from .metrics import CONTENT_TYPE, Metrics
from .openapi import openapi_document
from .operations import OPERATIONS, HTTPCall, Operation
from .tls import certified_terminal, door_mode

__all__ = ["KEEP_ALIVE_S", "MAX_BODY", "HTTPServer", "create_app"]

#: the largest request body read (a batch of about 60,000 records)
MAX_BODY = 32 * 1024 * 1024
#: the key of a request's ASGI ``state`` that holds its connection's certified terminal
_CERTIFIED = "dualcard.certified_terminal"
#: How long an idle keep-alive connection stays open (uvicorn's ``timeout_keep_alive``,
#: whose default is 5 s). It must outlast the clients' own idle timeouts: httpx keeps a
#: connection 5 s by default, and with both at 5 s a client reuses a connection the
#: moment the server closes it, its request then answered by nothing ("Server
#: disconnected without sending a response"), most often when the server is busy.
KEEP_ALIVE_S = 20

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                   Awaitable[None]]


class _TooLarge(Exception):
    pass


def _target(scope: Scope) -> str:
    """The path and query as the request line sent them (what the MAC covers)."""
    path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    return (path + (b"?" + query if query else b"")).decode("latin-1")


def _headers(request: Request) -> dict[str, str]:
    """The headers by lower-case name; a name given twice has its values joined by ", "
    (RFC 9110), so a signing header sent twice is malformed, never one copy or the other."""
    joined: dict[str, str] = {}
    for name, value in request.headers.items():
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _endpoint(core: HTTPCore, operation: Operation, executor: Executor | None,
              limit: int) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = await _body(request, limit)
        except _TooLarge:
            return JSONResponse(error_body("too_large", f"the body exceeds {limit} bytes"), 413)
        call = HTTPCall(request.method, _target(request.scope), _headers(request), body,
                        dict(request.path_params), dict(request.query_params),
                        request.scope.get("state", {}).get(_CERTIFIED))
        loop = asyncio.get_running_loop()
        answer = await loop.run_in_executor(executor, core.handle, operation, call)
        return Response(answer.body, answer.status, headers=answer.headers,
                        media_type="application/json")
    return endpoint


def _health(core: HTTPCore, executor: Executor | None) -> Callable[[Request], Awaitable[Response]]:
    def probe() -> None:
        with core.core.services.db.read() as conn:
            conn.execute(text("SELECT 1"))

    async def health(request: Request) -> Response:
        try:
            await asyncio.get_running_loop().run_in_executor(executor, probe)
        except Exception:
            return JSONResponse({"status": "unavailable", "database": "out of reach"}, 503)
        return JSONResponse({"status": "ok"})
    return health


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code,
                        headers=dict(exc.headers or {}))


async def _crash(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex
    LOGGER.error("internal error %s", type(exc).__name__, exc_info=exc,
                 extra={"fields": {"event": "internal_error", "error_id": error_id,
                                   "error": type(exc).__name__}})
    return JSONResponse(error_body("internal", "internal error", error_id=error_id), 500)


class _Answer:
    """The ``send`` of one request as :class:`_Measured` passes it on: it notes the status
    of the answer (500 until one starts). One small object per request, no closure."""

    __slots__ = ("send", "status")

    def __init__(self, send: Callable[[Any], Awaitable[None]]) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class _Measured:
    """ASGI middleware (plain ASGI, no task or stream of its own): every HTTP answer
    counted by route template and status, and timed."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, answer = time.perf_counter(), _Answer(send)
        try:
            await self.app(scope, receive, answer)
        finally:  # the router names the route it matched (a 405's too) in the scope
            name = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe("http", name, scope["method"], answer.status,
                                 time.perf_counter() - started)


def create_app(core: HTTPCore, *, executor: Executor | None = None,
               metrics: Metrics | None = None, max_body: int = MAX_BODY) -> Starlette:
    """The front door's ASGI app; ``executor`` runs the handlers (the loop's default pool
    when None)."""
    metrics = metrics or core.core.metrics or Metrics()
    document = openapi_document()
    routes: list[BaseRoute] = [
        Route(op.path, _endpoint(core, op, executor, max_body), methods=[op.method],
              name=op.name) for op in OPERATIONS]

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    async def exposition(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    routes += [Route("/health", _health(core, executor), methods=["GET"], name="health"),
               Route("/metrics", exposition, methods=["GET"], name="metrics"),
               Route("/v1/openapi.json", openapi, methods=["GET"], name="openapi")]
    app = Starlette(routes=routes, exception_handlers={
        HTTPException: _http_error, Exception: _crash})
    app.add_middleware(_Measured, metrics=metrics)  # type: ignore[arg-type]
    return app


def _listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host``:``port``, made with its protocol named: asyncio
    sets TCP_NODELAY only on sockets whose ``proto`` says TCP, and without it every answer
    after a connection's first waited 40 ms for a delayed ACK (uvicorn writes the headers
    and the body apart)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class _EmbeddedServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: the process that embeds it decides
    when to stop (``dualcard host serve`` on SIGTERM or SIGINT)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _CertifiedH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, each of whose requests carries in its ASGI ``state``
    the terminal its connection's mutual-TLS certificate names (uvicorn puts no peer
    certificate in the scope; a request's state is a copy of its connection's)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls_object = transport.get_extra_info("ssl_object")
        peer = tls_object.getpeercert() if tls_object is not None else None
        self.app_state = {**self.app_state, _CERTIFIED: certified_terminal(peer)}


class _TLSConfig(uvicorn.Config):
    """uvicorn's configuration serving the given TLS context, as made by :mod:`.tls`."""

    def __init__(self, app: Starlette, tls: ssl.SSLContext | None, **kwargs: Any) -> None:
        mutual = tls is not None and tls.verify_mode == ssl.CERT_REQUIRED
        super().__init__(app, http=_CertifiedH11 if mutual else "auto", **kwargs)
        self._tls = tls

    def load(self) -> None:
        super().load()
        self.ssl = self._tls


class HTTPServer:
    """Serve ``app`` on ``host``:``port`` (loopback by default; port 0 picks a free one) on
    the running event loop; over TLS when given a context (:class:`~.tls.ServerTLS`)."""

    def __init__(self, app: Starlette, *, host: str = "127.0.0.1", port: int = 0,
                 graceful_timeout: float = 30.0, logger: logging.Logger = LOGGER,
                 tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.app = app
        self.host = host
        self.port = port
        self.graceful_timeout = graceful_timeout
        self.logger = logger
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> tuple[str, int]:
        """Listen; the address actually bound."""
        try:
            sock = _listening_socket(self.host, self.port)
        except OSError as exc:
            raise ServiceConfigurationError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.host, self.port = sock.getsockname()[:2]
        config = _TLSConfig(self.app, self.tls, log_config=None, access_log=False, lifespan="off",
                                server_header=False, timeout_keep_alive=KEEP_ALIVE_S,
                                timeout_graceful_shutdown=int(self.graceful_timeout))
        self._server = server = _EmbeddedServer(config)
        self._task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises what stopped it
        self.logger.info("listening on %s:%d (HTTP)", self.host, self.port,
                         extra={"fields": {"event": "listening", "door": "http",
                                           "host": self.host, "port": self.port,
                                           "tls": door_mode(self.tls)}})
        return self.host, self.port

    async def stop(self) -> None:
        """Stop accepting, finish the requests in flight, close every connection."""
        if self._server is None or self._task is None or self._task.done():
            return
        self._server.should_exit = True
        await self._task
        self.logger.info("stopped (HTTP)", extra={"fields": {"event": "stopped", "door": "http"}})
