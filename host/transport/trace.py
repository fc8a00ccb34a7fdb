"""APDU tracing: one stream of records, rendered as human lines or JSON Lines.

Theory of operation: a :class:`Tracer` turns each exchange (and each connect,
reset, disconnect or failure) into :class:`TraceRecord` objects, passes them
through a redactor, then hands them to every sink. Redaction runs before any
sink sees a record, so masked bytes (PINs, keys) reach neither renderer.
:class:`TracingTransport` is the wrapper that feeds a tracer from any transport;
the vpcd bridge's ``on_apdu`` hook can feed one too (:meth:`Tracer.exchange`).

Each command is named from the command specs (:mod:`apdu_specs.commands.dissect`,
which follows SELECT to tell apart commands that share an INS); ``dualcard trace
decode`` reads both formats back and decodes every field.

Human format (close to GPP's ``-d``): header, Lc, data and Le as sent, the command's
name; the answer's data and status word, the time it took and the status word's
meaning::

    >> 00A40400 07 F0000000010001 00 (SELECT)
    << 6F108407F0000000010001A5059F6501FF 9000  1.2 ms  success

JSON Lines: one object per record with ``ts, chip, reader, dir, name, cla, ins, p1,
p2, lc, data_hex, le, sw, dur_ms, redacted, error`` (hex as upper-case strings; with
``lc`` a command's bytes are rebuilt exactly, malformed ones too).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from apdu_specs.apdu import split_command
from host.transport.base import Transport, TransportWrapper

if TYPE_CHECKING:
    from apdu_specs.commands.dissect import Dissector

__all__ = [
    "DEFAULT_REDACTOR",
    "SECRET_INS",
    "Direction",
    "HumanTraceWriter",
    "JSONLinesTraceWriter",
    "Redactor",
    "SWDescriber",
    "TraceRecord",
    "TraceSink",
    "Tracer",
    "TracingTransport",
    "format_human",
    "format_json",
    "redact_commands",
    "slot_trace_hook",
]

Direction = Literal["cmd", "rsp", "connect", "reset", "disconnect", "error"]
SWDescriber = Callable[[int], str]


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One traced event; hex fields are upper-case and already redacted."""

    ts: float
    direction: Direction
    chip: str | None = None
    reader: str | None = None
    cla: int | None = None
    ins: int | None = None
    p1: int | None = None
    p2: int | None = None
    lc_hex: str = ""
    data_hex: str = ""
    le_hex: str = ""
    sw: int | None = None
    dur_ms: float | None = None
    well_formed: bool = True
    redacted: bool = False
    error: str | None = None
    #: the command's name (``cmd`` records; also on the ``rsp``/``error`` that answers it)
    name: str | None = None


TraceSink = Callable[[TraceRecord], None]
Redactor = Callable[[TraceRecord], TraceRecord]

SECRET_INS: frozenset[int] = frozenset({
    0x20,  # VERIFY: PIN block
    0x24,  # CHANGE REFERENCE DATA: old and new PIN
    0x2C,  # RESET RETRY COUNTER: PUK and new PIN
    0xD8,  # PUT KEY: key components
})


def redact_commands(ins: Collection[int], *, responses: bool = False) -> Redactor:
    """A redactor masking the data of commands with these INS codes.

    With ``responses=True`` the response data of those commands is masked too.
    Lengths stay visible (one ``*`` per hex digit) so a trace still shows shape.
    """
    codes = frozenset(ins)
    directions = {"cmd", "rsp"} if responses else {"cmd"}

    def redact(record: TraceRecord) -> TraceRecord:
        if record.ins in codes and record.direction in directions and record.data_hex:
            return dataclasses.replace(
                record, data_hex="*" * len(record.data_hex), redacted=True
            )
        return record

    return redact


DEFAULT_REDACTOR: Redactor = redact_commands(SECRET_INS)


def _hex(data: bytes) -> str:
    return data.hex().upper()


def _dissector() -> Dissector:
    # Loading every command spec costs more than the rest of the transport layer: only a
    # tracer that names commands pays for it, when it is made.
    from apdu_specs.commands.dissect import Dissector

    return Dissector()


class Tracer:
    """Builds records, names the commands, redacts the records once, and fans them out
    to the sinks. One tracer follows one chip (what is selected there names commands)."""

    def __init__(
        self,
        *sinks: TraceSink,
        chip: str | None = None,
        reader: str | None = None,
        redact: Redactor | None = DEFAULT_REDACTOR,
        name_commands: bool = True,
    ) -> None:
        self.sinks: list[TraceSink] = list(sinks)
        self.chip = chip
        self.reader = reader
        self.redact = redact
        self._dissector = _dissector() if name_commands else None

    def emit(self, record: TraceRecord) -> None:
        if self.redact is not None:
            record = self.redact(record)
        for sink in self.sinks:
            sink(record)

    def exchange(self, command: bytes, response: bytes, *, ts: float, dur_ms: float) -> None:
        """Trace one command and its response (``ts`` = wall-clock send time)."""
        fields = self._command_fields(command)
        self.emit(TraceRecord(ts, "cmd", self.chip, self.reader, **fields))
        if self._dissector is not None:
            self._dissector.answered(command, response)
        header = {k: fields[k] for k in ("cla", "ins", "p1", "p2", "name") if k in fields}
        sw = int.from_bytes(response[-2:], "big") if len(response) >= 2 else None
        self.emit(TraceRecord(
            ts + dur_ms / 1000.0, "rsp", self.chip, self.reader, **header,
            data_hex=_hex(response[:-2]) if sw is not None else _hex(response),
            sw=sw, dur_ms=dur_ms, well_formed=sw is not None,
        ))

    def failure(self, command: bytes, error: BaseException, *, ts: float, dur_ms: float) -> None:
        """Trace a command whose transmission raised."""
        fields = self._command_fields(command)
        self.emit(TraceRecord(ts, "cmd", self.chip, self.reader, **fields))
        header = {k: fields[k] for k in ("cla", "ins", "p1", "p2", "name") if k in fields}
        self.emit(TraceRecord(
            ts + dur_ms / 1000.0, "error", self.chip, self.reader, **header,
            dur_ms=dur_ms, error=f"{type(error).__name__}: {error}",
        ))

    def _command_fields(self, command: bytes) -> dict[str, Any]:
        parts = split_command(command)
        if len(parts.header) < 4:
            return {"data_hex": _hex(parts.header), "well_formed": False}
        cla, ins, p1, p2 = parts.header
        return {
            "cla": cla, "ins": ins, "p1": p1, "p2": p2,
            "lc_hex": _hex(parts.lc), "data_hex": _hex(parts.data), "le_hex": _hex(parts.le),
            "well_formed": parts.well_formed,
            "name": self._dissector.name(command) if self._dissector is not None else None,
        }

    def event(
        self, direction: Direction, *, ts: float, atr: bytes = b"", dur_ms: float | None = None
    ) -> None:
        """Trace a connect, reset or disconnect (with the ATR where there is one)."""
        self.emit(TraceRecord(ts, direction, self.chip, self.reader,
                              data_hex=_hex(atr), dur_ms=dur_ms))


class TracingTransport(TransportWrapper):
    """Traces everything that passes through to ``inner``."""

    def __init__(
        self,
        inner: Transport,
        tracer: Tracer,
        *,
        clock: Callable[[], float] = time.perf_counter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(inner)
        self.tracer = tracer
        self._clock = clock
        self._wall_clock = wall_clock

    def connect(self) -> None:
        ts, started = self._wall_clock(), self._clock()
        self.inner.connect()
        self.tracer.event("connect", ts=ts, atr=self.inner.atr, dur_ms=self._ms(started))

    def disconnect(self) -> None:
        self.tracer.event("disconnect", ts=self._wall_clock())
        self.inner.disconnect()

    def reset(self) -> bytes:
        ts, started = self._wall_clock(), self._clock()
        atr = self.inner.reset()
        self.tracer.event("reset", ts=ts, atr=atr, dur_ms=self._ms(started))
        return atr

    def transmit(self, apdu: bytes) -> bytes:
        ts, started = self._wall_clock(), self._clock()
        try:
            response = self.inner.transmit(apdu)
        except Exception as exc:
            self.tracer.failure(apdu, exc, ts=ts, dur_ms=self._ms(started))
            raise
        self.tracer.exchange(apdu, response, ts=ts, dur_ms=self._ms(started))
        return response

    def _ms(self, started: float) -> float:
        return (self._clock() - started) * 1000.0


def slot_trace_hook(
    tracers: Sequence[Tracer], *, wall_clock: Callable[[], float] = time.time
) -> Callable[[int, bytes, bytes, float], None]:
    """Adapt tracers (index = vpcd slot) to the bridge's ``on_apdu`` hook signature."""

    def hook(slot: int, command: bytes, response: bytes, seconds: float) -> None:
        tracers[slot].exchange(command, response, ts=wall_clock() - seconds,
                               dur_ms=seconds * 1000.0)

    return hook


# -- renderers ---------------------------------------------------------------------


def format_human(record: TraceRecord, describe_sw: SWDescriber | None = None) -> str:
    """One human-readable line for ``record``."""
    prefix = f"[{record.chip}] " if record.chip else ""
    timing = f"  {record.dur_ms:.1f} ms" if record.dur_ms is not None else ""
    match record.direction:
        case "cmd":
            return prefix + ">> " + _human_command(record)
        case "rsp":
            body = " ".join(p for p in (record.data_hex, _sw_text(record.sw)) if p)
            meaning = ""
            if describe_sw is not None and record.sw is not None:
                meaning = f"  {describe_sw(record.sw)}"
            return f"{prefix}<< {body}{timing}{meaning}"
        case "error":
            return f"{prefix}!! {record.error}{timing}"
        case "disconnect":
            return f"{prefix}-- disconnect"
        case _:
            where = f" {record.reader}" if record.reader and record.direction == "connect" else ""
            return f"{prefix}-- {record.direction}{where}  ATR {record.data_hex}{timing}"


def _human_command(record: TraceRecord) -> str:
    if record.cla is None:
        return f"{record.data_hex}  (malformed APDU)"
    header = f"{record.cla:02X}{record.ins:02X}{record.p1:02X}{record.p2:02X}"
    if not record.well_formed:
        return f"{header} {record.data_hex}  (malformed APDU)"
    parts = (header, record.lc_hex, record.data_hex, record.le_hex,
             f"({record.name})" if record.name else "")
    return " ".join(p for p in parts if p)


def _sw_text(sw: int | None) -> str:
    return "" if sw is None else f"{sw:04X}"


def format_json(record: TraceRecord) -> str:
    """One JSON Lines object for ``record`` (keys in a fixed order)."""

    def byte(value: int | None) -> str | None:
        return None if value is None else f"{value:02X}"

    payload = {
        "ts": round(record.ts, 6),
        "chip": record.chip,
        "reader": record.reader,
        "dir": record.direction,
        "name": record.name,
        "cla": byte(record.cla),
        "ins": byte(record.ins),
        "p1": byte(record.p1),
        "p2": byte(record.p2),
        "lc": record.lc_hex or None,
        "data_hex": record.data_hex,
        "le": record.le_hex or None,
        "sw": _sw_text(record.sw) or None,
        "dur_ms": None if record.dur_ms is None else round(record.dur_ms, 3),
        "redacted": record.redacted,
        "error": record.error,
    }
    return json.dumps(payload, separators=(",", ":"))


class HumanTraceWriter:
    """Sink writing :func:`format_human` lines to a text stream."""

    def __init__(self, stream: IO[str], describe_sw: SWDescriber | None = None) -> None:
        self.stream = stream
        self.describe_sw = describe_sw

    def __call__(self, record: TraceRecord) -> None:
        self.stream.write(format_human(record, self.describe_sw) + "\n")


class JSONLinesTraceWriter:
    """Sink writing :func:`format_json` lines to a text stream."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, record: TraceRecord) -> None:
        self.stream.write(format_json(record) + "\n")

