"""The ISO 8583 front door: an asyncio TCP server around the sans-I/O handlers.

The event loop reads frames (2-byte big-endian length, then the message) and writes
answers. On SQLite the handlers (:meth:`~host.service.core.Connection.handle`) run on the
loop's own thread (``on_loop``, the default there, D64): SQLite's calls are local and
short, its writers take turns anyway, and a handler thread beside the loop only contends
with it for the interpreter's lock, which a running thread keeps for up to five
milliseconds while the other waits (at 2,000 a second the loop waited so for every batch,
with 1.5 context switches per request; on the loop 0.2, and the open loop's p99 about
halved). On PostgreSQL they run in a pool of ``workers``
threads, because they wait on the server's round trips: one suits a PostgreSQL nearby
(with the authorisations committed in groups, more threads of one process only hand the
interpreter's lock to one another at every round trip; more processes use more cores), a
PostgreSQL far away takes more. A connection's requests are answered in order, one at a
time.

Requests reach the handler in batches: whatever arrived while it was busy. A busy
service waits a little for a batch to fill (``group_wait``, :data:`GROUP_WAIT`): when the
handler frees up and the batch it just handled held more than one request, fewer than
:data:`GROUP_GATHER` waiting requests start only after ``group_wait`` or as soon as that
many have gathered, whichever comes first (on the loop's thread, what arrived during the
batch is read only after it: the wait then starts even if nothing is waiting yet).
A commit costs about as much as one authorisation's own work, so at 2,000 a second on
SQLite groups of three or four kept the handler busy nine tenths of the time, and any
stall left a queue that drained slowly; waiting a millisecond makes groups of six to eight,
which leave it a quarter idle (D61).
An idle service (the last batch one request) starts each request at once.
The authorisations of a batch, up to ``group`` (:data:`GROUP`), share one write
transaction and one commit (group commit, :meth:`ServiceCore.handle_many
<host.service.core.ServiceCore.handle_many>`), each in its own savepoint and none
answered before the commit. On PostgreSQL each handler thread commits its own groups:
the issuing bank's account, which every hold moves, is updated once per group just before
its commit (:mod:`host.backoffice.group_postings`), so its row lock lasts one round trip,
not the group.

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
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from host.backoffice.wal_checkpoints import BackgroundCheckpoints

from .core import LOGGER, Connection, ServiceCore
from .errors import ISOFramingError
from .iso8583 import LENGTH_PREFIX, frame, frame_length
from .tls import certified_terminal, door_mode

__all__ = ["GROUP", "ISOServer", "Startable", "on_loop_by_default", "serve_in_thread"]

#: the most authorisations committed together (:class:`_Batches`)
GROUP = 64
#: seconds a busy service waits for a batch to gather :data:`GROUP_GATHER` requests
GROUP_WAIT = 0.001
#: waiting requests that start a batch at once, without waiting for more
GROUP_GATHER = 8
#: bytes a connection may send ahead of its request being answered before it is read no more
READ_LIMIT = 64 * 1024

T_co = TypeVar("T_co", covariant=True)


class ISOServer:
    """Serve ``core`` on ``host``:``port`` (loopback by default; port 0 picks a free one)."""

    def __init__(self, core: ServiceCore, *, host: str = "127.0.0.1", port: int = 0,
                 workers: int = 1, idle_timeout: float = 300.0, frame_timeout: float = 10.0,
                 logger: logging.Logger = LOGGER, pool: ThreadPoolExecutor | None = None,
                 tls: ssl.SSLContext | None = None, group: int | None = None,
                 group_wait: float = GROUP_WAIT, on_loop: bool | None = None) -> None:
        self.core = core
        if on_loop is None:
            on_loop = pool is None and on_loop_by_default(core, workers)
        #: whether requests are handled on the event loop's thread (else in ``workers``
        #: threads or the ``pool`` given)
        self.on_loop = on_loop
        #: TLS (None: plain TCP); a context that asks for certificates binds each
        #: connection to the terminal its certificate names
        self.tls = tls
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.frame_timeout = frame_timeout
        self.logger = logger
        #: the handler threads (None: requests are handled on the loop's thread); a pool
        #: given is shared (with the HTTP door) and left running
        self._own_pool = pool is None and not on_loop
        self._pool = None if on_loop else pool or ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="dualcard-service")
        #: requests waiting for a handler, handed over in batches
        self._batches = _Batches(core, self._pool, 1 if on_loop else max(1, workers),
                                 group or GROUP, wait=group_wait)
        self._server: asyncio.Server | None = None
        #: the open connections; :meth:`stop` waits for them to close
        self._doors: set[_Door] = set()
        self._all_closed: asyncio.Future[None] | None = None
        self._stopping = False
        self._purger: asyncio.Task[None] | None = None
        #: the log's checkpoints, off the grouped commits while serving (SQLite)
        self._checkpoints = BackgroundCheckpoints(core.services.db)

    async def start(self) -> tuple[str, int]:
        """Listen; the address actually bound."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Door(self), self.host, self.port, ssl=self.tls,
            ssl_handshake_timeout=self.frame_timeout if self.tls else None)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        self._purger = asyncio.create_task(self._purge_seen())
        self._checkpoints.start()
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
        for door in list(self._doors):
            if not door.busy:
                door.close()
        while self._doors:
            self._all_closed = asyncio.get_running_loop().create_future()
            await self._all_closed
        if self._server is not None:
            await self._server.wait_closed()
        if self._own_pool and self._pool is not None:
            self._pool.shutdown(wait=True)
        self._checkpoints.stop()
        self.logger.info("stopped", extra={"fields": {"event": "stopped"}})

    def _closed(self, door: _Door) -> None:
        """``door``'s connection is gone (:meth:`stop` waits for every one)."""
        self._doors.discard(door)
        if not self._doors and self._all_closed is not None and not self._all_closed.done():
            self._all_closed.set_result(None)

    def _refused(self, reason: str) -> None:
        """Log a connection closed for what its peer sent (or did not send in time)."""
        self.logger.warning("connection closed: %s", reason,
                            extra={"fields": {"event": "closed", "reason": reason}})

    async def _purge_seen(self) -> None:
        """Forget requests that left the replay window, every half window."""
        window = self.core.replay.window
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(window.total_seconds() / 2)
            with contextlib.suppress(Exception):  # the next round tries again
                if self._pool is None:
                    self.core.replay.purge(self.core.clock())
                else:
                    await loop.run_in_executor(self._pool, self.core.replay.purge,
                                               self.core.clock())


def on_loop_by_default(core: ServiceCore, workers: int) -> bool:
    """Whether the ISO door handles its requests on the loop's thread unless told: on
    SQLite, when no more than one thread was asked for (D64)."""
    return workers <= 1 and core.services.db.is_sqlite


class _Door(asyncio.Protocol):
    """One connection: frames cut from what arrives, one request handed over at a time,
    its answer written back (no task or stream per connection: the loop's work per answer
    is a callback, a slice of a buffer and a write).

    Deadlines as a reader under ``asyncio.timeout`` would keep them, with one timer that
    is re-armed only when it fires early: ``idle_timeout`` for a frame's length prefix
    (from when the connection is ready for its next request), then ``frame_timeout`` for
    the rest of it; none while a request is being handled. Back-pressure both ways: more
    than :data:`READ_LIMIT` bytes waiting behind a request pauses reading, and a peer that
    does not read its answers (the transport's write buffer full) gets no next request
    handled until it does."""

    def __init__(self, server: ISOServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.connection: Connection | None = None
        self.busy = False  #: a request of this connection is being handled
        self._length = 0  #: the frame's length once its prefix is in (0: waiting for it)
        self._due: float | None = None  #: when the current deadline expires (None: none)
        self._timer: asyncio.TimerHandle | None = None
        self._eof = False
        self._reading_paused = False
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.connection = self.server.core.connection(
            f"{peer[0]}:{peer[1]}" if peer else "", certified=_certified(transport, self.server.tls))
        self.server._doors.add(self)
        self._ready()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy and not self._writing_paused:
            self._cut()
        elif len(self.buffer) > READ_LIMIT and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        self._eof = True
        if not self.busy and not self._writing_paused:
            self._cut()
        # half-closed: the request in flight is still answered (TLS cannot half-close)
        return self.server.tls is None

    def connection_lost(self, exc: Exception | None) -> None:
        self._due = None
        if self._timer is not None:
            self._timer.cancel()
        self.server._closed(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if not self.busy:
            self._cut()

    def answer(self, reply: bytes | None) -> None:
        """The answer to this connection's request (None: close the connection)."""
        self.busy = False
        transport = self.transport
        assert transport is not None
        if reply is None or transport.is_closing():
            self.close()
            return
        transport.write(frame(reply))
        if self.server._stopping:
            self.close()
        else:
            self._ready()

    def close(self) -> None:
        self._due = None
        if self.transport is not None:
            self.transport.close()

    def _ready(self) -> None:
        """Wait for the next request, up to ``idle_timeout`` for its prefix."""
        self._length = 0
        self._arm(self.server.idle_timeout)
        if not self._writing_paused:
            self._cut()

    def _cut(self) -> None:
        """Hand over the next whole frame, or wait for more of it."""
        buffer = self.buffer
        if not self._length and len(buffer) >= LENGTH_PREFIX:
            try:
                self._length = frame_length(bytes(buffer[:LENGTH_PREFIX]))
            except ISOFramingError as exc:
                self._refuse(type(exc).__name__)
                return
            if len(buffer) < LENGTH_PREFIX + self._length:
                self._arm(self.server.frame_timeout)
        end = LENGTH_PREFIX + self._length
        if self._length and len(buffer) >= end:
            message = bytes(buffer[LENGTH_PREFIX:end])
            del buffer[:end]
            self._hand_over(message)
        elif self._eof:
            self._refuse("IncompleteReadError") if buffer else self.close()

    def _hand_over(self, message: bytes) -> None:
        self.busy = True
        self._due = None
        if self._reading_paused and len(self.buffer) <= READ_LIMIT:
            self._reading_paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        assert self.connection is not None
        self.server._batches.submit(self, self.connection, message)

    def _refuse(self, reason: str) -> None:
        self.server._refused(reason)
        self.close()

    def _arm(self, seconds: float) -> None:
        """Expire in ``seconds``; the timer is moved only if it would fire too late."""
        self._due = due = self.loop.time() + seconds
        if self._timer is not None and self._timer.when() > due:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer = self.loop.call_at(due, self._expire)

    def _expire(self) -> None:
        """The timer fired: close the connection if its deadline passed, else re-arm."""
        self._timer = None
        if self._due is None:
            return
        if self.loop.time() >= self._due:
            self._refuse("TimeoutError")
        else:
            self._timer = self.loop.call_at(self._due, self._expire)


class _Batches:
    """Requests handled in batches (:meth:`ServiceCore.handle_many`: one commit for the
    authorisations of a batch), by the threads of ``pool`` or, without one, on the loop's
    thread once the loop has read what else arrived. A batch is whatever arrived while the
    previous ones were being handled, so an idle server hands over each request at once
    and a busy one commits many at a time; at most ``at_once`` batches are handled at
    the same time (one per thread; on the loop, one). A thread's batch's answers come back
    to the loop in one callback.

    Busy (the batch a thread just finished held more than one request), a free thread
    waits up to ``wait`` seconds for ``gather`` requests before it starts on fewer: the
    commit a batch shares is then shared by more (see the module)."""

    def __init__(self, core: ServiceCore, pool: ThreadPoolExecutor | None, at_once: int,
                 largest: int, *, wait: float = GROUP_WAIT,
                 gather: int = GROUP_GATHER) -> None:
        self.core = core
        self.pool = pool
        self.at_once = at_once
        self.largest = largest
        self.wait = wait
        self.gather = min(gather, largest)
        self._waiting: list[tuple[_Door, Connection, bytes]] = []
        self._running = 0
        #: set while a free thread waits for the batch to gather (None: not waiting)
        self._gathering: asyncio.TimerHandle | None = None

    def submit(self, door: _Door, connection: Connection, raw: bytes) -> None:
        """Handle ``raw``; ``door.answer`` gets its answer once its batch is handled (and
        committed)."""
        self._waiting.append((door, connection, raw))
        if self._running >= self.at_once:
            return
        if self._gathering is not None:
            if len(self._waiting) < self.gather:
                return
            self._gathering.cancel()
            self._gathering = None
        self._start()

    def _gathered(self) -> None:
        """The wait for a fuller batch is over: start on what came."""
        self._gathering = None
        if self._waiting and self._running < self.at_once:
            self._start()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._running += 1
        if self.pool is None:  # on this thread, once the loop has read what else arrived
            loop.call_soon(self._handle_here)
            return
        batch = self._take()
        job = self.pool.submit(self.core.handle_many, [(c, raw) for _, c, raw in batch])
        job.add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._finished, batch,
                                                   _answers(done, len(batch))))

    def _take(self) -> list[tuple[_Door, Connection, bytes]]:
        """The next batch: the longest-waiting requests, up to ``largest``."""
        batch, self._waiting = self._waiting[:self.largest], self._waiting[self.largest:]
        return batch

    def _handle_here(self) -> None:
        batch = self._take()
        try:
            answers = self.core.handle_many([(c, raw) for _, c, raw in batch])
        except Exception:  # a handler bug: those connections close, the others go on
            answers = [None] * len(batch)
        self._finished(batch, answers)

    def _finished(self, batch: list[tuple[_Door, Connection, bytes]],
                  answers: Sequence[bytes | None]) -> None:
        self._running -= 1
        for (door, _, _), reply in zip(batch, answers, strict=True):
            door.answer(reply)
        if self._running >= self.at_once or self._gathering is not None:
            return
        # on the loop, what came meanwhile is read only after this: busy, wait for it too
        if len(batch) > 1 and len(self._waiting) < self.gather and self.wait > 0 \
                and (self._waiting or self.pool is None):
            self._gathering = asyncio.get_running_loop().call_later(self.wait, self._gathered)
        elif self._waiting:
            self._start()


def _answers(job: Future[list[bytes | None]], count: int) -> list[bytes | None]:
    """A batch's answers from its thread (None for each if it failed: its connections
    close)."""
    return job.result() if not job.cancelled() and job.exception() is None else [None] * count


def _certified(transport: asyncio.BaseTransport, tls: ssl.SSLContext | None) -> str | None:
    """The terminal a mutual-TLS connection's certificate names ("" none); None without
    mutual TLS."""
    if tls is None or tls.verify_mode != ssl.CERT_REQUIRED:
        return None
    tls_object = transport.get_extra_info("ssl_object")
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
