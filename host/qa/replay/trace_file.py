"""Read a JSON Lines APDU trace (the format of :func:`host.transport.trace.format_json`).

Records come in pairs: a ``cmd`` record (header, data, Le) and the ``rsp`` (data, SW)
or ``error`` record of the same chip; ``connect`` and ``reset`` records carry the ATR.
The trace keeps the command's fields, not its bytes, so the command is rebuilt: short
form unless Le has two bytes or the data does not fit a short Lc (ISO/IEC 7816-4 §5.1).
Redacted commands (a PIN, key components) keep their length but not their bytes and
cannot be sent again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

from ..errors import QAError, TraceFormatError

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
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QAError(f"cannot read trace {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise QAError(f"{path} is not a text file") from None
    return parse_trace(text.splitlines(), source=str(path), default_chip=default_chip)


def parse_trace(lines: Iterable[str], *, source: str = "<trace>",
                default_chip: int = 1) -> list[Event]:
    events: list[Event] = []
    pending: dict[int, tuple[int, dict[str, Any]]] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        record = _record(raw, source, number)
        try:
            chip = chip_number(record.get("chip"), default_chip)
        except QAError as exc:
            raise TraceFormatError(str(exc), source=source, line=number) from None
        direction = record.get("dir")
        if direction == "cmd":
            if chip in pending:
                raise TraceFormatError(f"command without an answer on line {pending[chip][0]}",
                                       source=source, line=number)
            pending[chip] = (number, record)
        elif direction in ("rsp", "error"):
            if chip not in pending:
                raise TraceFormatError(f"{direction} record without a command before it",
                                       source=source, line=number)
            line, command = pending.pop(chip)
            events.append(_exchange(line, chip, command, record, source))
        elif direction in ("connect", "reset"):
            events.append(PowerEvent(number, chip, direction,
                                     _hex(record.get("data_hex"), source, number)))
        elif direction != "disconnect":
            raise TraceFormatError(f"unknown record direction {direction!r}",
                                   source=source, line=number)
    if pending:
        line = min(line for line, _ in pending.values())
        raise TraceFormatError("the trace ends before this command's answer", source=source,
                               line=line)
    return events


def _record(raw: str, source: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"not JSON: {exc.msg}", source=source, line=number) from None
    if not isinstance(record, dict):
        raise TraceFormatError("a trace record is a JSON object", source=source, line=number)
    return record


def _hex(value: object, source: str, number: int, what: str = "data_hex") -> bytes:
    if value is None:
        return b""
    try:
        return parse_hex(str(value), what=what)
    except HexError as exc:
        raise TraceFormatError(str(exc), source=source, line=number) from None


def _byte(record: dict[str, Any], key: str, source: str, number: int) -> int:
    value = _hex(record.get(key), source, number, key)
    if len(value) != 1:
        raise TraceFormatError(f"{key} must be one byte, got {record.get(key)!r}",
                               source=source, line=number)
    return value[0]


def _exchange(line: int, chip: int, cmd: dict[str, Any], answer: dict[str, Any],
              source: str) -> Exchange:
    redacted = bool(cmd.get("redacted")) or "*" in str(cmd.get("data_hex") or "")
    command = b"" if redacted else _command_bytes(cmd, source, line)
    if answer.get("dir") == "error":
        return Exchange(line, chip, command, None, str(answer.get("error") or "error"), redacted)
    sw = _hex(answer.get("sw"), source, line + 1, "sw")
    if len(sw) != 2:
        raise TraceFormatError(f"response without a two-byte status word: {answer.get('sw')!r}",
                               source=source, line=line + 1)
    body = str(answer.get("data_hex") or "")
    data = b"" if "*" in body else _hex(body, source, line + 1)
    return Exchange(line, chip, command, data + sw, None, redacted)


def _command_bytes(record: dict[str, Any], source: str, number: int) -> bytes:
    header = bytes(_byte(record, k, source, number) for k in ("cla", "ins", "p1", "p2"))
    data = _hex(record.get("data_hex"), source, number)
    le = _hex(record.get("le"), source, number, "le")
    if "lc" in record:  # traces that keep Lc are rebuilt exactly
        return header + _hex(record.get("lc"), source, number, "lc") + data + le
    if len(le) > 3:
        raise TraceFormatError(f"Le of {len(le)} bytes", source=source, line=number)
    extended = len(le) >= 2 or len(data) > 255
    if not data:
        return header + (b"\x00" + le[-2:] if extended else le)
    lc = b"\x00" + len(data).to_bytes(2, "big") if extended else bytes([len(data)])
    return header + lc + data + le[-2:]
