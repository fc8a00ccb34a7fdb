"""Send a recorded session to a card again and report every answer that differs.

Commands go out exactly as recorded, through transports that must not complete
61xx/6Cxx on their own (the trace already holds the GET RESPONSE steps). A reset in
the trace resets the chip; a connect only checks the ATR. The answer of a GET RESPONSE
is judged by the volatile rules of the command whose answer it continues.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from apdu_specs.hexutil import to_hex
from apdu_specs.sw import describe
from host.transport.base import Transport, TransportError

from .trace_file import Event, Exchange, PowerEvent
from .volatile import VolatileSet

__all__ = ["Mismatch", "ReplayResult", "replay_events"]


@dataclass(frozen=True)
class Mismatch:
    """One event whose replay differs from the recording."""

    line: int
    chip: int
    what: str
    expected: str
    actual: str
    command: bytes = b""

    def __str__(self) -> str:
        head = f"line {self.line} [chip{self.chip}]"
        if self.command:
            head += f" >> {to_hex(self.command)}"
        return f"{head}\n  {self.what}\n  recorded: {self.expected}\n  replayed: {self.actual}"


@dataclass
class ReplayResult:
    replayed: int = 0
    skipped: list[int] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    stopped_at: int | None = None

    @property
    def ok(self) -> bool:
        return not self.mismatches


def replay_events(events: Iterable[Event], transports: Mapping[int, Transport], *,
                  volatile: VolatileSet | None = None, skip_redacted: bool = False,
                  check_atr: bool = True, keep_going: bool = True) -> ReplayResult:
    """Replay ``events``; mismatches are collected (or the first one stops, if asked)."""
    volatile = volatile if volatile is not None else VolatileSet()
    result = ReplayResult()
    origin: dict[int, bytes] = {}
    for event in events:
        if event.chip not in transports:
            raise ValueError(f"the trace talks to chip {event.chip}, which is not connected")
        if isinstance(event, Exchange) and not _is_get_response(event.command):
            origin[event.chip] = event.command
        judged_as = origin.get(event.chip, b"")
        found = list(_replay_one(event, transports[event.chip], volatile, check_atr,
                                 skip_redacted, result, judged_as))
        result.mismatches.extend(found)
        if result.stopped_at is not None or (found and not keep_going):
            result.stopped_at = result.stopped_at or event.line
            break
    return result


def _is_get_response(command: bytes) -> bool:
    return len(command) >= 2 and command[1] == 0xC0 and not command[0] & 0x80


def _replay_one(event: Event, transport: Transport, volatile: VolatileSet, check_atr: bool,
                skip_redacted: bool, result: ReplayResult,
                judged_as: bytes) -> Iterator[Mismatch]:
    if isinstance(event, PowerEvent):
        atr = transport.reset() if event.kind == "reset" else transport.atr
        if check_atr and atr != event.atr:
            yield Mismatch(event.line, event.chip, f"ATR after {event.kind}",
                           to_hex(event.atr), to_hex(atr))
        return
    if event.redacted:
        if not skip_redacted:
            raise ValueError(f"line {event.line}: the command's data was redacted in the trace "
                             "(a PIN or key); it cannot be replayed (use --skip-redacted)")
        result.skipped.append(event.line)
        return
    yield from _compare_exchange(event, transport, volatile, result, judged_as or event.command)


def _compare_exchange(event: Exchange, transport: Transport, volatile: VolatileSet,
                      result: ReplayResult, judged_as: bytes) -> Iterator[Mismatch]:
    result.replayed += 1
    try:
        actual = transport.transmit(event.command)
    except TransportError as exc:
        if event.error is None:
            result.stopped_at = event.line
            yield Mismatch(event.line, event.chip, "the card did not answer",
                           _describe(event.response or b""), f"{type(exc).__name__}: {exc}",
                           event.command)
        return
    if event.response is None:
        yield Mismatch(event.line, event.chip, "the card answered where the recording failed",
                       event.error or "error", _describe(actual), event.command)
        return
    recorded = event.response
    sw_differs = recorded[-2:] != actual[-2:] and not volatile.sw_volatile(judged_as)
    data_differs = not volatile.data_equal(judged_as, recorded[:-2], actual[:-2])
    if sw_differs or data_differs:
        what = " and ".join(w for w, d in (("status word", sw_differs),
                                           ("response data", data_differs)) if d)
        detail = _first_difference(recorded[:-2], actual[:-2]) if data_differs else ""
        yield Mismatch(event.line, event.chip, what + " differ" + detail,
                       _describe(recorded), _describe(actual), event.command)


def _describe(response: bytes) -> str:
    if len(response) < 2:
        return to_hex(response) or "(nothing)"
    sw = int.from_bytes(response[-2:], "big")
    data = to_hex(response[:-2])
    return f"{data + ' ' if data else ''}{sw:04X} ({describe(sw)})"


def _first_difference(left: bytes, right: bytes) -> str:
    for i, (a, b) in enumerate(zip(left, right)):
        if a != b:
            return f" (first at byte {i})"
    if len(left) != len(right):
        return f" (lengths {len(left)} and {len(right)})"
    return ""
