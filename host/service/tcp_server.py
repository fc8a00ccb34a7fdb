"""The ISO 8583 front door: an asyncio TCP server around the sans-I/O handlers.

The event loop reads frames (2-byte big-endian length, then the message) and writes
answers; the handlers (:meth:`~host.service.core.Connection.handle`) run in a pool of
``workers`` threads, because they wait on the database. One worker suits SQLite, whose
writers take turns anyway (a second one would only wait on the file lock); PostgreSQL
takes more. A connection's requests are answered in order, one at a time.

Requests reach the threads in batches: whatever arrived while the threads were busy.
On SQLite the authorisations of a batch, up to ``group`` (:data:`GROUP`), share one
write transaction and one commit (group commit, :meth:`ServiceCore.handle_many
<host.service.core.ServiceCore.handle_many>`), each in its own savepoint and none
answered before the commit. On PostgreSQL ``group`` is 1: every hold moves the issuing
bank's account, whose row stays locked until the commit, so several short transactions
in parallel beat one long one.

Given a TLS context (:mod:`.tls`) it serves TLS; when the context asks terminals for a
certificate (mutual TLS), each connection serves only the terminal its certificate names
(:meth:`ServiceCore.connection <host.service.core.ServiceCore.connection>`). A failed
handshake closes that connection only.

A length prefix out of range, a frame cut short, a connection idle for ``idle_timeout``
or a handler that answers None closes that connection and no other. :meth:`ISOServer.stop`
stops accepting, closes idle connections, lets every request being handled finish and
send its answer, then returns: what ``dualcard host serve`` does on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from .core import LOGGER, Connection, ServiceCore
from .errors import ISOFramingError
from .iso8583 import LENGTH_PREFIX, frame, frame_length
from .tls import certified_terminal, door_mode

__all__ = ["GROUP", "ISOServer", "Startable", "serve_in_thread"]

#: the most authorisations committed together on SQLite (:class:`_Batches`)
GROUP = 64

T_co = TypeVar("T_co", covariant=True)


class ISOServer:
    """Serve ``core`` on ``host``:``port`` (loopback by default; port 0 picks a free one)."""

    def __init__(self, core: ServiceCore, *, host: str = "127.0.0.1", port: int = 0,
                 workers: int = 1, idle_timeout: float = 300.0, frame_timeout: float = 10.0,
                 logger: logging.Logger = LOGGER, pool: ThreadPoolExecutor | None = None,
                 tls: ssl.SSLContext | None = None, group: int | None = None) -> None:
        self.core = core
        #: TLS (None: plain TCP); a context that asks for certificates binds each
        #: connection to the terminal its certificate names
        self.tls = tls
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.logger = logger
        #: the handler threads; a pool given is shared (with the HTTP door) and left running
        self._own_pool = pool is None
        self._pool = pool or ThreadPoolExecutor(max_workers=max(1, workers),
                                                thread_name_prefix="dualcard-service")
        #: requests waiting for a handler thread, handed over in batches
        self._batches = _Batches(core, self._pool, max(1, workers),
                                 group or (GROUP if core.services.db.is_sqlite else 1))
        self._server: asyncio.Server | None = None
        self._busy: dict[asyncio.Task[None], bool] = {}
        self._stopping = False
        self._purger: asyncio.Task[None] | None = None

    async def start(self) -> tuple[str, int]:
        """Listen; the address actually bound."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.tls,
            ssl_handshake_timeout=self.frame_timeout if self.tls else None)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        self._purger = asyncio.create_task(self._purge_seen())
        self.logger.info("listening on %s:%d", self.host, self.port,
                         extra={"fields": {"event": "listening", "host": self.host,
                                           "port": self.port, "tls": door_mode(self.tls)}})
        return self.host, self.port

    async def stop(self) -> None:
        """Stop accepting, finish the requests in flight, close every connection."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._purger is not None:
            self._purger.cancel()
        for task, busy in list(self._busy.items()):
            if not busy:
                task.cancel()
        await asyncio.gather(*self._busy, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._own_pool:
            self._pool.shutdown(wait=True)
        self.logger.info("stopped", extra={"fields": {"event": "stopped"}})

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        peer = writer.get_extra_info("peername")
        connection = self.core.connection(f"{peer[0]}:{peer[1]}" if peer else "",
                                          certified=_certified(writer, self.tls))
        self._busy[task] = False
        try:
            while not self._stopping:
                message = await self._read_frame(reader)
                if message is None:
                    break
                self._busy[task] = True
                try:
                    answer = await self._batches.submit(connection, message)
                    if answer is None:
                        break
                    writer.write(frame(answer))
                    await writer.drain()
                finally:
                    self._busy[task] = False
        except (ConnectionError, asyncio.CancelledError):
            pass  # the peer went away, or the server is stopping while this one was idle
        finally:
            del self._busy[task]
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _read_frame(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next message, or None when the connection must close."""
        try:
            # no task per read, as wait_for; one deadline per frame, moved once the prefix
            # is in: ``idle_timeout`` for the prefix, then ``frame_timeout`` for the rest
            async with asyncio.timeout(self.idle_timeout) as deadline:
                prefix = await reader.readexactly(LENGTH_PREFIX)
                length = frame_length(prefix)
                deadline.reschedule(asyncio.get_running_loop().time() + self.frame_timeout)
                return await reader.readexactly(length)
        except (asyncio.IncompleteReadError, TimeoutError, ISOFramingError) as exc:
            if not isinstance(exc, asyncio.IncompleteReadError) or exc.partial:
                self.logger.warning("connection closed: %s", type(exc).__name__,
                                    extra={"fields": {"event": "closed",
                                                      "reason": type(exc).__name__}})
            return None

    async def _purge_seen(self) -> None:
        """Forget requests that left the replay window, every half window."""
        window = self.core.replay.window
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(window.total_seconds() / 2)
            with contextlib.suppress(Exception):  # the next round tries again
                await loop.run_in_executor(self._pool, self.core.replay.purge,
                                           self.core.clock())


class _Batches:
    """Requests handed to the handler threads in batches (:meth:`ServiceCore.handle_many`:
    one commit for the authorisations of a batch). A batch is whatever arrived while the
    previous ones were being handled, so an idle server hands over each request at once
    and a busy one commits many at a time; at most ``at_once`` batches are handled at
    the same time (one per thread: on SQLite, one)."""

    def __init__(self, core: ServiceCore, pool: ThreadPoolExecutor, at_once: int,
                 largest: int) -> None:
        self.core = core
        self.pool = pool
        self.at_once = at_once
        self.largest = largest
        self._waiting: list[tuple[Connection, bytes, asyncio.Future[bytes | None]]] = []
        self._running = 0

    async def submit(self, connection: Connection, raw: bytes) -> bytes | None:
        """The answer to ``raw``, once the batch it joined is handled (and committed)."""
        answer: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((connection, raw, answer))
        if self._running < self.at_once:
            self._start()
        return await answer

    def _start(self) -> None:
        batch, self._waiting = self._waiting[:self.largest], self._waiting[self.largest:]
        self._running += 1
        job = asyncio.get_running_loop().run_in_executor(
            self.pool, self.core.handle_many, [(c, raw) for c, raw, _ in batch])
        job.add_done_callback(lambda done: self._finished(batch, done))

    def _finished(self, batch: list[tuple[Connection, bytes, asyncio.Future[bytes | None]]],
                  job: asyncio.Future[list[bytes | None]]) -> None:
        self._running -= 1
        answers = [None] * len(batch) if job.cancelled() or job.exception() else job.result()
        for (_, _, answer), reply in zip(batch, answers, strict=True):
            if not answer.done():
                answer.set_result(reply)
        if self._waiting and self._running < self.at_once:
            self._start()


def _certified(writer: asyncio.StreamWriter, tls: ssl.SSLContext | None) -> str | None:
    """The terminal a mutual-TLS connection's certificate names ("" none); None without
    mutual TLS."""
    if tls is None or tls.verify_mode != ssl.CERT_REQUIRED:
        return None
    tls_object = writer.get_extra_info("ssl_object")
    return certified_terminal(tls_object.getpeercert() if tls_object is not None else None)


class Startable(Protocol[T_co]):
    """A server with ``start`` (what it listens on) and ``stop`` (graceful) coroutines."""

    def start(self) -> Coroutine[Any, Any, T_co]: ...

    def stop(self) -> Coroutine[Any, Any, None]: ...


@contextlib.contextmanager
def serve_in_thread(server: Startable[T_co], *, timeout: float = 30.0) -> Iterator[T_co]:
    """Run ``server`` (an :class:`ISOServer`, a :class:`~host.service.runner.ServiceHost`)
    on an event loop in a background thread of this process (tests, benchmarks, an
    application embedding the service); what it listens on. On exit it stops as on
    SIGTERM: requests in flight finish first."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="dualcard-iso-server", daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout)
    finally:
        try:
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()
