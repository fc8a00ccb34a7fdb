"""Read an APDU trace back: the human lines and the JSON Lines of :mod:`host.transport.trace`.

Each line becomes the :class:`~host.transport.trace.TraceRecord` the tracer rendered (the
format is told line by line: a line starting with ``{`` is JSON). Blank lines and ``#``
comments are skipped; anything else that is not a trace line raises
:class:`~host.qa.errors.TraceFormatError` naming the file and the line.

Human command lines keep each field as sent (``header Lc data Le``), so the command's
bytes come back exactly; a case 2E Le written by older tracers without its leading ``00``
(``0100``) is read too. JSON records that keep ``lc`` come back exactly; older ones are
rebuilt in the short form unless Le has two bytes or the data does not fit a short Lc.
Redacted data (``*`` for each hex digit) keeps its length but not its bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex
from host.transport.trace import Direction, TraceRecord

from ..errors import QAError, TraceFormatError

__all__ = ["TraceLine", "command_bytes", "load_trace_lines", "read_trace_lines"]


@dataclass(frozen=True)
class TraceLine:
    """One record of a trace and the line it was read from."""

    line: int
    record: TraceRecord


_PREFIX = re.compile(r"^(?:\[(?P<chip>[^\]]*)\] )?(?P<arrow>>>|<<|--|!!)(?: (?P<rest>.*))?$")
_COMMAND = re.compile(r"^(?P<apdu>[0-9A-Fa-f*]+(?: [0-9A-Fa-f*]+)*)?\s*(?:\((?P<note>.*)\))?$")
_MS = re.compile(r"^(?P<ms>\d+(?:\.\d+)?) ms$")
_EVENT = re.compile(r"^(?P<kind>connect|reset)(?: (?P<reader>.*?))?  ATR (?P<atr>[0-9A-Fa-f]*)"
                    r"(?:  (?P<ms>\d+(?:\.\d+)?) ms)?$")
_ERROR = re.compile(r"^(?P<error>.*?)(?:  (?P<ms>\d+(?:\.\d+)?) ms)?$")
_MALFORMED = "malformed APDU"


class _BadLine(ValueError):
    """What is wrong with one line (the caller adds where it is)."""


def load_trace_lines(path: str | Path) -> list[TraceLine]:
    """Every record of the trace file ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise QAError(f"cannot read trace {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise QAError(f"{path} is not a text file") from None
    return read_trace_lines(text.splitlines(), source=str(path))


def read_trace_lines(lines: Iterable[str], *, source: str = "<trace>") -> list[TraceLine]:
    out: list[TraceLine] = []
    for number, text in enumerate(lines, start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            record = _json(stripped) if stripped.startswith("{") else _human(text.rstrip())
        except _BadLine as exc:
            raise TraceFormatError(str(exc), source=source, line=number) from None
        out.append(TraceLine(number, record))
    return out


def command_bytes(record: TraceRecord) -> bytes | None:
    """The bytes of a ``cmd`` record; None when the trace redacted its data."""
    if record.redacted or "*" in record.data_hex:
        return None
    data = bytes.fromhex(record.data_hex)
    if record.cla is None:
        return data  # fewer than 4 bytes
    header = bytes((record.cla, record.ins or 0, record.p1 or 0, record.p2 or 0))
    return header + bytes.fromhex(record.lc_hex) + data + bytes.fromhex(record.le_hex)


# --- human lines ------------------------------------------------------------------------------


def _human(text: str) -> TraceRecord:
    match = _PREFIX.match(text)
    if match is None:
        raise _BadLine(f"not a trace line: {_excerpt(text)}")
    chip, rest = match["chip"], match["rest"] or ""
    record = {">>": _human_command, "<<": _human_response, "--": _human_event,
              "!!": _human_error}[match["arrow"]](rest)
    return replace(record, chip=chip)


def _human_command(rest: str) -> TraceRecord:
    match = _COMMAND.match(rest.strip())
    if match is None or not (match["apdu"] or match["note"] == _MALFORMED):
        raise _BadLine(f"a command line holds hex fields, got {_excerpt(rest)}")
    tokens, note = (match["apdu"] or "").split(" "), match["note"]
    if note == _MALFORMED:
        return _malformed(tokens)
    header = _hex(tokens[0], "header")
    if len(header) != 4:
        raise _BadLine(f"a command header has 4 bytes, got {tokens[0]!r}")
    lc, data, le = _length_fields(tokens[1:])
    cla, ins, p1, p2 = header
    return TraceRecord(0.0, "cmd", cla=cla, ins=ins, p1=p1, p2=p2, lc_hex=lc.upper(),
                       data_hex=data.upper(), le_hex=le.upper(), redacted="*" in data,
                       name=note)


def _length_fields(tokens: list[str]) -> tuple[str, str, str]:
    """Lc, data and Le of a command line (each as written), checked against each other."""
    if len(tokens) > 3:
        raise _BadLine(f"a command has at most Lc, data and Le after its header, got "
                       f"{len(tokens)} fields")
    if len(tokens) == 1:  # case 2: Le alone
        le = tokens[0]
        if len(le) == 4:  # a case 2E Le written without its leading 00
            le = "00" + le
        _field(le, "Le", (1, 3))
        return "", "", le
    if not tokens:
        return "", "", ""
    lc, data = tokens[0], tokens[1]
    le = tokens[2] if len(tokens) == 3 else ""
    announced = int.from_bytes(_field(lc, "Lc", (1, 3)), "big")
    if announced * 2 != len(data):
        raise _BadLine(f"Lc {lc} announces {announced} data bytes, the line has "
                       f"{len(data) / 2:g}")
    if "*" not in data:
        _hex(data, "data")
    if le:
        _field(le, "Le", (2,) if len(lc) == 6 else (1,))
    return lc, data, le


def _malformed(tokens: list[str]) -> TraceRecord:
    if len(tokens) == 1 and len(tokens[0]) < 8:
        return TraceRecord(0.0, "cmd", data_hex=_hex(tokens[0], "APDU").hex().upper(),
                           well_formed=False)
    header = _hex(tokens[0], "header")
    if len(header) != 4 or len(tokens) > 2:
        raise _BadLine("a malformed APDU is written as its header and the bytes after it")
    data = tokens[1].upper() if len(tokens) == 2 else ""
    if "*" not in data:
        _hex(data, "data")
    cla, ins, p1, p2 = header
    return TraceRecord(0.0, "cmd", cla=cla, ins=ins, p1=p1, p2=p2, data_hex=data,
                       well_formed=False, redacted="*" in data)


def _human_response(rest: str) -> TraceRecord:
    parts = [p for p in re.split(r"\s{2,}", rest.strip()) if p]
    body = "" if not parts or _MS.match(parts[0]) else parts.pop(0)
    timing = _MS.match(parts[0]) if parts else None
    dur_ms = float(timing["ms"]) if timing else None
    tokens = body.split(" ") if body else []
    if len(tokens) > 2:
        raise _BadLine(f"a response line holds data and a status word, got {_excerpt(body)}")
    if tokens and len(tokens[-1]) == 4:
        sw = int.from_bytes(_hex(tokens[-1], "status word"), "big")
        data = tokens[0].upper() if len(tokens) == 2 else ""
        if "*" not in data:
            _hex(data, "response data")
        return TraceRecord(0.0, "rsp", data_hex=data, sw=sw, dur_ms=dur_ms, redacted="*" in data)
    if len(tokens) == 2:
        raise _BadLine(f"status word {tokens[-1]!r} is not 2 bytes")
    raw = tokens[0] if tokens else ""
    return TraceRecord(0.0, "rsp", data_hex=_hex(raw, "response").hex().upper(), dur_ms=dur_ms,
                       well_formed=False)


def _human_event(rest: str) -> TraceRecord:
    if rest.strip() == "disconnect":
        return TraceRecord(0.0, "disconnect")
    match = _EVENT.match(rest.strip())
    if match is None:
        raise _BadLine(f"not a connect, reset or disconnect line: {_excerpt(rest)}")
    kind: Direction = "connect" if match["kind"] == "connect" else "reset"
    return TraceRecord(0.0, kind, reader=match["reader"],
                       data_hex=_hex(match["atr"], "ATR").hex().upper(),
                       dur_ms=float(match["ms"]) if match["ms"] else None)


def _human_error(rest: str) -> TraceRecord:
    match = _ERROR.match(rest.strip())
    assert match is not None  # the pattern matches any text
    return TraceRecord(0.0, "error", error=match["error"],
                       dur_ms=float(match["ms"]) if match["ms"] else None)


# --- JSON Lines ---------------------------------------------------------------------------------

_DIRECTIONS = ("cmd", "rsp", "connect", "reset", "disconnect", "error")


def _json(text: str) -> TraceRecord:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"not JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise _BadLine("a trace record is a JSON object")
    direction = obj.get("dir")
    if direction not in _DIRECTIONS:
        raise _BadLine(f"unknown record direction {direction!r}")
    cla, ins, p1, p2 = (_json_byte(obj, k) for k in ("cla", "ins", "p1", "p2"))
    data = _json_hex(obj, "data_hex", allow_redacted=True)
    lc, le = _json_hex(obj, "lc"), _json_hex(obj, "le")
    if direction == "cmd" and cla is not None and "lc" not in obj:
        lc = _rebuilt_lc(data, le)
    return TraceRecord(
        float(obj.get("ts") or 0.0), direction, _text(obj, "chip"), _text(obj, "reader"),
        cla, ins, p1, p2, lc_hex=lc, data_hex=data, le_hex=le, sw=_json_sw(obj),
        dur_ms=_number(obj, "dur_ms"), redacted=bool(obj.get("redacted")) or "*" in data,
        error=_text(obj, "error"), name=_text(obj, "name"))


def _rebuilt_lc(data: str, le: str) -> str:
    if not data:
        return ""
    size = len(data) // 2
    if len(le) >= 4 or size > 255:
        return f"00{size:04X}"
    return f"{size:02X}"


def _json_byte(obj: dict[str, Any], key: str) -> int | None:
    value = _json_hex(obj, key)
    if not value:
        return None
    if len(value) != 2:
        raise _BadLine(f"{key} must be one byte, got {obj.get(key)!r}")
    return int(value, 16)


def _json_sw(obj: dict[str, Any]) -> int | None:
    value = _json_hex(obj, "sw")
    if not value:
        return None
    if len(value) != 4:
        raise _BadLine(f"sw must be a two-byte status word, got {obj.get('sw')!r}")
    return int(value, 16)


def _json_hex(obj: dict[str, Any], key: str, *, allow_redacted: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    text = str(value).replace(" ", "").upper()
    if allow_redacted and "*" in text:
        if set(text) != {"*"}:
            raise _BadLine(f"{key} mixes hex and redaction marks")
        return text
    try:
        return parse_hex(text, what=key).hex().upper()
    except HexError as exc:
        raise _BadLine(str(exc)) from None


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return None if value is None else str(value)


def _number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise _BadLine(f"{key} must be a number, got {value!r}")
    return float(value)


# --- shared -----------------------------------------------------------------------------------


def _field(text: str, what: str, sizes: tuple[int, ...]) -> bytes:
    value = _hex(text, what)
    if len(value) not in sizes:
        raise _BadLine(f"{what} {text!r} has {len(value)} bytes, not "
                       + " or ".join(str(s) for s in sizes))
    return value


def _hex(text: str, what: str) -> bytes:
    if len(text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", text):
        raise _BadLine(f"{what} {_excerpt(text)} is not hex bytes")
    return bytes.fromhex(text)


def _excerpt(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
