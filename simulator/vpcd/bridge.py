"""Connects a simulated chip to one slot of vsmartcard's vpcd reader driver.

Theory of operation: pcscd loads vpcd, which listens on TCP 35963 + slot. The
bridge connects to that port (vpcd's default "client" mode: vpcd listens, the
card connects) and then answers what vpcd sends, one frame at a time:

- GET ATR arrives constantly (pcscd polls card presence through it) and is
  always answered with the chip's ATR; no answer would read as "card removed".
- POWER ON / POWER OFF / RESET are passed to the chip and get no reply.
- Anything longer is a command APDU, answered with the chip's response APDU.

Latency: vpcd may write the length and the body in two segments. Without
``TCP_QUICKACK`` our kernel delays the ACK of the first one by ~40 ms and
Nagle on vpcd's side holds the second until then, so every APDU would take
~44 ms. The bridge therefore sets ``TCP_NODELAY``, re-arms ``TCP_QUICKACK``
before each receive (Linux clears it on its own), and writes each reply with
one ``sendall``.

When vpcd closes the socket (pcscd stopped or restarted, or the frame was
refused) the bridge reconnects with a short capped backoff until stopped.

A card that leaves the reader is a closed connection, since vpcd has no other
way to say "removed". That happens when the chip is mute (it raises
``CardMute``: no power, torn, pulled out) or when the optional ``present``
predicate turns false; with ``present`` given, the bridge reconnects only once
the predicate is true again.

Fresh insertion: pcscd's event thread acts only on a *change* of presence it
sees itself, every 400 ms. Other paths (an application's connect or reset)
can mark the slot empty behind its back; if a card is back before the event
thread's next poll, pcscd stays stuck on "no card" or on the previous card's
ATR and power state. So on each new connection the bridge answers the first
GET ATR by closing the socket and stays away for ``empty_slot_hold`` seconds
(longer than one poll), so the event thread itself sees the slot empty; then
it attaches for good, and pcscd powers the card up and reads its ATR afresh.
This costs about a second per attachment. ``fresh_insertion=False`` turns it
off (for a fake vpcd in tests).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence

from simulator.chip_protocol import ChipLike
from simulator.errors import CardMute
from simulator.vpcd.framing import (
    MAX_PAYLOAD,
    Command,
    Control,
    ControlCode,
    FrameDecoder,
    FramingError,
    encode_frame,
    parse_message,
)

__all__ = [
    "DEFAULT_BASE_PORT",
    "DEFAULT_HOST",
    "APDUHook",
    "ConnectionHook",
    "PresenceCheck",
    "VPCDBridge",
    "serve_card",
]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 0x8C7B  # 35963, vpcd's CHANNELID in /etc/reader.conf.d/vpcd

APDUHook = Callable[[int, bytes, bytes, float], None]
"""Called after each APDU as ``(slot, command, response, duration_seconds)``."""

ConnectionHook = Callable[[int, bool], None]
"""Called as ``(slot, attached)`` when the card is attached to vpcd or detached again."""

PresenceCheck = Callable[[], bool]
"""Returns False while the card is out of the reader."""

_RECV_SIZE = 2 + MAX_PAYLOAD  # one whole frame in a single receive
_PRESENCE_POLL = 0.05
_SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class _CardLeft(Exception):
    """Unwinds the serving loop when the card is mute or taken out."""


class _SlotShownEmpty(Exception):
    """Unwinds the serving loop after the first GET ATR of a fresh insertion."""


class VPCDBridge:
    """Serves one chip on one vpcd slot until :meth:`stop` is called."""

    def __init__(
        self,
        chip: ChipLike,
        *,
        slot: int = 0,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        on_apdu: APDUHook | None = None,
        on_connection: ConnectionHook | None = None,
        present: PresenceCheck | None = None,
        retry_min: float = 0.02,
        retry_max: float = 0.5,
        fresh_insertion: bool = True,
        empty_slot_hold: float = 0.8,
        silence_warning: float = 5.0,
    ) -> None:
        if slot < 0:
            raise ValueError(f"slot must be >= 0, got {slot}")
        self.chip = chip
        self.slot = slot
        self.host = host
        self.port = DEFAULT_BASE_PORT + slot if port is None else port
        self.on_apdu = on_apdu
        self.on_connection = on_connection
        self.present = present
        self.fresh_insertion = fresh_insertion
        self._empty_slot_hold = empty_slot_hold
        self._shown_empty = False
        self._link_up = False
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._silence_warning = silence_warning
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0
        self.apdus = 0

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<VPCDBridge slot={self.slot} {self.host}:{self.port} {state}>"

    # -- lifecycle -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a TCP connection to vpcd is open."""
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """True while the bridge thread started by :meth:`start` is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected to vpcd (True) or ``timeout`` elapses (False)."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Run the bridge in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError(f"{self!r} is already running")
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run, name=f"vpcd-bridge-{self.slot}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Ask the bridge to finish, close the socket and wait for the thread."""
        self._stop.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the peer
                sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> VPCDBridge:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run(self) -> None:
        """Connect, serve, and reconnect until stopped (blocks the caller)."""
        delay = self._retry_min
        while not self._stop.is_set():
            if not self._card_present():
                self._stop.wait(_PRESENCE_POLL)
                continue
            sock = self._connect()
            if sock is None:
                self._set_link(False)
                self._stop.wait(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_min
            shown_empty = False
            try:
                self._serve(sock)
            except _SlotShownEmpty:
                shown_empty = True
            except _CardLeft as exc:
                logger.info("slot %d: card removed: %s", self.slot, exc)
            except OSError as exc:
                if not self._stop.is_set():
                    logger.info("slot %d: connection to vpcd lost: %s", self.slot, exc)
            finally:
                self._disconnect(sock)
            self._shown_empty = shown_empty
            if shown_empty:  # part of attaching, not a loss: let pcscd's poll see it
                self._stop.wait(self._empty_slot_hold)
            else:
                self._set_link(False)
        self._set_link(False)

    def _card_present(self) -> bool:
        if self.present is None:
            return True
        try:
            return bool(self.present())
        except Exception:
            logger.exception("slot %d: presence check failed; treating the card as absent",
                             self.slot)
            return False

    # -- connection ----------------------------------------------------------------

    def _connect(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=2.0)
        except OSError as exc:
            logger.debug("slot %d: vpcd at %s:%d not reachable: %s",
                         self.slot, self.host, self.port, exc)
            return None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        with self._lock:
            self._sock = sock
        if self._stop.is_set():  # stop() ran before the socket was registered
            self._disconnect(sock)
            return None
        self.connections += 1
        self._connected.set()
        self._set_link(True)
        return sock

    def _disconnect(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
        self._connected.clear()  # before close(), so a peer that sees EOF sees us disconnected
        sock.close()

    def _set_link(self, up: bool) -> None:
        """Log and report attach/detach once each, however many sockets it took."""
        if up == self._link_up:
            return
        self._link_up = up
        if up:
            logger.info("slot %d: attached to vpcd at %s:%d", self.slot, self.host, self.port)
        else:
            logger.info("slot %d: detached from vpcd", self.slot)
        if self.on_connection is None:
            return
        try:
            self.on_connection(self.slot, up)
        except Exception:
            logger.exception("slot %d: on_connection hook failed", self.slot)

    # -- serving -------------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        decoder = FrameDecoder()
        chunk = self._first_chunk(sock)
        recv = sock.recv
        sendall = sock.sendall
        setsockopt = sock.setsockopt
        while chunk:
            for payload in decoder.feed(chunk):
                reply = self._answer(payload)
                if reply is not None:
                    sendall(reply)
            if _TCP_QUICKACK is not None:
                setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            chunk = recv(_RECV_SIZE)
        if decoder.buffered and not self._stop.is_set():
            logger.warning("slot %d: vpcd closed mid-frame (%d bytes dropped)",
                           self.slot, decoder.buffered)

    def _first_chunk(self, sock: socket.socket) -> bytes:
        """Receive the first bytes, warning once if vpcd stays silent.

        vpcd accepts one card per slot; a second connection sits in its backlog
        and never hears anything, which is worth saying in the log.
        """
        if _TCP_QUICKACK is not None:
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
        sock.settimeout(self._silence_warning)
        try:
            return sock.recv(_RECV_SIZE)
        except TimeoutError:
            logger.warning(
                "slot %d: connected to %s:%d but vpcd has sent nothing for %.0f s; "
                "is another card already attached to this slot?",
                self.slot, self.host, self.port, self._silence_warning,
            )
            sock.settimeout(None)
            return sock.recv(_RECV_SIZE)
        finally:
            sock.settimeout(None)

    def _answer(self, payload: bytes) -> bytes | None:
        """Return the frame to send back for one vpcd message, if any."""
        if not self._card_present():
            raise _CardLeft("taken out of the reader")
        try:
            return self._dispatch(payload)
        except CardMute as exc:
            raise _CardLeft(f"chip is mute: {exc}") from None

    def _dispatch(self, payload: bytes) -> bytes | None:
        try:
            message = parse_message(payload)
        except FramingError as exc:
            logger.warning("slot %d: ignoring message: %s", self.slot, exc)
            return None
        match message:
            case Command(apdu):
                return encode_frame(self._transmit(apdu))
            case Control(ControlCode.GET_ATR):
                if self.fresh_insertion and not self._shown_empty:
                    logger.debug("slot %d: showing pcscd an empty slot first", self.slot)
                    raise _SlotShownEmpty
                return encode_frame(self.chip.atr)
            case Control(ControlCode.POWER_ON):
                logger.debug("slot %d: power on", self.slot)
                self.chip.power_on()
            case Control(ControlCode.POWER_OFF):
                logger.debug("slot %d: power off", self.slot)
                self.chip.power_off()
            case Control(ControlCode.RESET):
                logger.debug("slot %d: reset", self.slot)
                self.chip.reset()
        return None

    def _transmit(self, apdu: bytes) -> bytes:
        """Run one APDU on the chip; this is the boundary where faults become 6F00."""
        started = time.perf_counter()
        try:
            response = self.chip.transmit(apdu)
        except CardMute:
            raise
        except Exception:
            logger.exception("slot %d: chip raised on %s", self.slot, apdu.hex().upper())
            response = _SW_NO_PRECISE_DIAGNOSIS
        if not response:  # vpcd reads a zero-length answer as a card that went away
            raise CardMute("empty response")
        if len(response) > MAX_PAYLOAD:
            logger.error("slot %d: chip response of %d bytes exceeds the vpcd frame limit",
                         self.slot, len(response))
            response = _SW_NO_PRECISE_DIAGNOSIS
        # a 1-byte answer (fault injection truncating a response) is passed on as it is
        self.apdus += 1
        if self.on_apdu is not None:
            try:
                self.on_apdu(self.slot, apdu, response, time.perf_counter() - started)
            except Exception:
                logger.exception("slot %d: on_apdu hook failed", self.slot)
        return response


def serve_card(
    chips: Sequence[ChipLike],
    host: str = DEFAULT_HOST,
    base_port: int = DEFAULT_BASE_PORT,
    *,
    trace: APDUHook | None = None,
    on_connection: ConnectionHook | None = None,
    present: PresenceCheck | None = None,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve ``chips[i]`` on vpcd slot ``i`` (port ``base_port + i``) until stopped.

    ``present`` (e.g. ``lambda: card.inserted``) takes the whole card out of
    both slots while it returns False. Blocks until ``stop_event`` is set
    (forever when None, e.g. until KeyboardInterrupt); the bridges are stopped
    cleanly either way.
    """
    if not chips:
        raise ValueError("serve_card needs at least one chip")
    bridges = [
        VPCDBridge(chip, slot=slot, host=host, port=base_port + slot,
                   on_apdu=trace, on_connection=on_connection, present=present)
        for slot, chip in enumerate(chips)
    ]
    for bridge in bridges:
        bridge.start()
    try:
        (stop_event if stop_event is not None else threading.Event()).wait()
    finally:
        for bridge in bridges:
            bridge.stop()
