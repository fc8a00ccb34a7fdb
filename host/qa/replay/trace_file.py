"""Read an APDU trace for replay (the formats of :mod:`host.transport.trace`).

Records come in pairs: a ``cmd`` record (header, data, Le) and the ``rsp`` (data, SW)
or ``error`` record of the same chip; ``connect`` and ``reset`` records carry the ATR.
The lines are read by :mod:`host.qa.trace.reader`, which gives every command's bytes
back (JSON Lines or human lines). Redacted commands (a PIN, key components) keep their
length but not their bytes and cannot be sent again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from host.transport.trace import TraceRecord

from ..errors import QAError, TraceFormatError
from ..trace.reader import TraceLine, command_bytes, load_trace_lines, read_trace_lines

__all__ = ["Event", "Exchange", "PowerEvent", "chip_number", "load_trace", "parse_trace"]


@dataclass(frozen=True)
class Exchange:
    """One command and what the card answered (``response`` = data ‖ SW) or the failure."""

    line: int
    chip: int
    command: bytes
    response: bytes | None = None
    error: str | None = None
    redacted: bool = False


@dataclass(frozen=True)
class PowerEvent:
    """A ``connect`` or ``reset``, with the ATR the card presented."""

    line: int
    chip: int
    kind: str
    atr: bytes


Event = Exchange | PowerEvent


def chip_number(value: object, default: int = 1) -> int:
    """``chip1``/``chip2`` (what the tracer writes), ``1``/``2``, or ``default`` when absent."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower().removeprefix("chip")
    if text in ("1", "2"):
        return int(text)
    raise QAError(f"chip {value!r}: a dual-chip card has chip1 and chip2")


def load_trace(path: str | Path, *, default_chip: int = 1) -> list[Event]:
    return _events(load_trace_lines(path), str(path), default_chip)


def parse_trace(lines: Iterable[str], *, source: str = "<trace>",
                default_chip: int = 1) -> list[Event]:
    return _events(read_trace_lines(lines, source=source), source, default_chip)


def _events(lines: Iterable[TraceLine], source: str, default_chip: int) -> list[Event]:
    events: list[Event] = []
    pending: dict[int, TraceLine] = {}
    for line in lines:
        record = line.record
        try:
            chip = chip_number(record.chip, default_chip)
        except QAError as exc:
            raise TraceFormatError(str(exc), source=source, line=line.line) from None
        if record.direction == "cmd":
            if chip in pending:
                raise TraceFormatError(f"command without an answer on line {pending[chip].line}",
                                       source=source, line=line.line)
            pending[chip] = line
        elif record.direction in ("rsp", "error"):
            if chip not in pending:
                raise TraceFormatError(f"{record.direction} record without a command before it",
                                       source=source, line=line.line)
            events.append(_exchange(pending.pop(chip), chip, line, source))
        elif record.direction in ("connect", "reset"):
            events.append(PowerEvent(line.line, chip, record.direction,
                                     bytes.fromhex(record.data_hex)))
    if pending:
        first = min(line.line for line in pending.values())
        raise TraceFormatError("the trace ends before this command's answer", source=source,
                               line=first)
    return events


def _exchange(command: TraceLine, chip: int, answer: TraceLine, source: str) -> Exchange:
    raw = command_bytes(command.record)
    redacted = raw is None
    sent = b"" if raw is None else raw
    record: TraceRecord = answer.record
    if record.direction == "error":
        return Exchange(command.line, chip, sent, None, record.error or "error", redacted)
    if record.sw is None:
        raise TraceFormatError("response without a two-byte status word", source=source,
                               line=answer.line)
    data = b"" if "*" in record.data_hex else bytes.fromhex(record.data_hex)
    return Exchange(command.line, chip, sent, data + record.sw.to_bytes(2, "big"), None,
                    redacted)
