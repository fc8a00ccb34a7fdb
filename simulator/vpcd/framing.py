"""Sans-I/O codec for the vpcd wire protocol (vsmartcard ``doc/api.txt``).

Theory of operation: every message in either direction is a 2-byte big-endian
length followed by that many payload bytes. From vpcd to the card a 1-byte
payload is a control code (power off / power on / reset / get ATR); anything
longer is a command APDU. The card answers GET ATR with the ATR and a command
APDU with the response APDU; the other control codes get no reply.

TCP delivers a byte stream, not messages, so :class:`FrameDecoder` buffers
arbitrary chunks and hands out only complete payloads of exactly the announced
length. :func:`encode_frame` returns length and payload as one ``bytes`` object
so the caller can hand it to a single ``sendall`` (two writes would let Nagle's
algorithm hold the second segment back for a delayed ACK).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from apdu_specs.errors import RemoteError

__all__ = [
    "HEADER_SIZE",
    "MAX_PAYLOAD",
    "Command",
    "Control",
    "ControlCode",
    "FrameDecoder",
    "FramingError",
    "VPCDMessage",
    "encode_control",
    "encode_frame",
    "parse_message",
]

HEADER_SIZE = 2
MAX_PAYLOAD = 0xFFFF
_HEADER = struct.Struct("!H")


class FramingError(RemoteError, ValueError):
    """A payload that cannot be framed, or a message vpcd should never send."""


class ControlCode(enum.IntEnum):
    """One-byte control payloads sent by vpcd (``vpcd.h``)."""

    POWER_OFF = 0x00
    POWER_ON = 0x01
    RESET = 0x02
    GET_ATR = 0x04


@dataclass(frozen=True, slots=True)
class Control:
    """A control request from vpcd; only GET_ATR expects an answer."""

    code: ControlCode


@dataclass(frozen=True, slots=True)
class Command:
    """A command APDU forwarded by vpcd; it expects a response APDU."""

    apdu: bytes


VPCDMessage = Control | Command


def encode_frame(payload: bytes) -> bytes:
    """Length-prefix ``payload`` into one object ready for a single ``sendall``."""
    size = len(payload)
    if size > MAX_PAYLOAD:
        raise FramingError(f"payload of {size} bytes exceeds the vpcd maximum of {MAX_PAYLOAD}")
    return _HEADER.pack(size) + bytes(payload)


def encode_control(code: ControlCode) -> bytes:
    """Frame a control code the way vpcd sends it (used by tests and fakes)."""
    return encode_frame(bytes((ControlCode(code),)))


def parse_message(payload: bytes) -> VPCDMessage:
    """Classify one decoded payload received from vpcd."""
    if not payload:
        raise FramingError("empty vpcd message (zero-length frame)")
    if len(payload) == 1:
        try:
            return Control(ControlCode(payload[0]))
        except ValueError:
            raise FramingError(f"unknown vpcd control code {payload[0]:02X}") from None
    return Command(bytes(payload))


class FrameDecoder:
    """Incremental decoder: feed any chunks, get back whole payloads in order."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[bytes]:
        """Append ``chunk`` and return every payload it completes (maybe none)."""
        buffer = self._buffer
        buffer += chunk
        frames: list[bytes] = []
        start = 0
        available = len(buffer)
        while available - start >= HEADER_SIZE:
            (size,) = _HEADER.unpack_from(buffer, start)
            end = start + HEADER_SIZE + size
            if end > available:
                break
            frames.append(bytes(buffer[start + HEADER_SIZE : end]))
            start = end
        if start:
            del buffer[:start]
        return frames

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet form a complete frame."""
        return len(self._buffer)

    @property
    def bytes_needed(self) -> int:
        """Smallest number of further bytes that could complete the next frame."""
        buffered = len(self._buffer)
        if buffered < HEADER_SIZE:
            return HEADER_SIZE - buffered
        (size,) = _HEADER.unpack_from(self._buffer, 0)
        return HEADER_SIZE + size - buffered

    def clear(self) -> None:
        """Drop partial data, e.g. after the connection was lost mid-frame."""
        self._buffer.clear()
