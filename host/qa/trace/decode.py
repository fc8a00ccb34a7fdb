"""Decode a trace: every command named, every field and status word explained.

Records are paired per chip (a command, then its answer or the failure of its
transmission) and each chip is followed on its own: a :class:`Dissector` knows what is
selected there, a :class:`~host.qa.trace.secure.ChannelObserver` which secure channel is
open. A protected command is decoded from its plain form when the keys allow, from its
header otherwise; a command the trace redacted is decoded from its header.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from apdu_specs.commands.dissect import DecodedCommand, DecodedResponse, Dissector
from apdu_specs.commands.spec import CommandSpec
from host.gp.keyspec import KeySpec
from host.transport.trace import TraceRecord

from ..errors import TraceFormatError
from .reader import TraceLine, command_bytes
from .secure import ChannelObserver, Protection

__all__ = ["DecodedExchange", "TraceEvent", "decode_trace"]

_INS_SELECT = 0xA4
_HANDSHAKE = ("gp:INITIALIZE UPDATE", "gp:EXTERNAL AUTHENTICATE")


@dataclass(frozen=True)
class DecodedExchange:
    """One command and its answer, decoded.

    ``apdu`` is the command as sent (None: the trace redacted its data); ``response``
    None means the trace holds no answer (``error``: the transmission failed).
    ``protection``/``response_protection`` say what secure messaging did and what of it
    was undone; ``note`` what the exchange did to a secure channel.
    """

    line: int
    chip: str | None
    command: DecodedCommand
    apdu: bytes | None
    response: DecodedResponse | None = None
    protection: Protection | None = None
    response_protection: Protection | None = None
    note: str = ""
    error: str | None = None
    dur_ms: float | None = None
    response_redacted: bool = False

    @property
    def redacted(self) -> bool:
        return self.apdu is None


@dataclass(frozen=True)
class TraceEvent:
    """A connect, reset or disconnect (with the ATR where there is one)."""

    line: int
    chip: str | None
    kind: str
    atr: bytes = b""
    reader: str | None = None
    dur_ms: float | None = None


class _Chip:
    """What the decoder knows about one chip while it reads the trace."""

    def __init__(self, keys: Sequence[KeySpec], specs: Sequence[CommandSpec]) -> None:
        self.dissector = Dissector(specs=specs)
        self.channels = ChannelObserver(keys)

    def event(self, line: TraceLine) -> TraceEvent:
        record = line.record
        if record.direction != "disconnect":
            self.channels.reset()
            self.dissector.application = None
        return TraceEvent(line.line, record.chip, record.direction,
                          bytes.fromhex(record.data_hex), record.reader, record.dur_ms)

    def exchange(self, command: TraceLine, answer: TraceLine | None) -> DecodedExchange:
        record = command.record
        raw = command_bytes(record)
        header = _header(record)
        protection = None
        if len(header) == 4 and self.channels.protects(header[0]) and not _is_authenticate(header):
            protection = self.channels.command(raw, header, command.line)
        decoded = self._command(record, raw, protection)
        base = DecodedExchange(command.line, record.chip, decoded, raw, protection=protection)
        if answer is None:
            return _with(base, note="no answer in the trace")
        if answer.record.direction == "error":
            return _with(base, error=answer.record.error, dur_ms=answer.record.dur_ms)
        return self._answered(base, answer.record)

    def _command(self, record: TraceRecord, raw: bytes | None,
                 protection: Protection | None) -> DecodedCommand:
        if protection is not None and protection.plain is not None:
            return self.dissector.command(protection.plain)
        if raw is None:
            return self.dissector.command(_header(record) + _le(record), wrapped=True)
        return self.dissector.command(raw, wrapped=protection is not None)

    def _answered(self, base: DecodedExchange, record: TraceRecord) -> DecodedExchange:
        redacted = "*" in record.data_hex
        raw = b"" if redacted else bytes.fromhex(record.data_hex)
        if record.sw is not None:
            raw += record.sw.to_bytes(2, "big")
        protection = None
        if base.protection is not None and not redacted:
            protection = self.channels.response(base.command.parts.header[0], raw)
        plain = protection.plain if protection is not None else None
        wrapped = protection is not None and plain is None
        response = self.dissector.response(base.command, raw if plain is None else plain,
                                           wrapped=wrapped or redacted)
        note = self._secure_channel(base, raw, response)
        return _with(base, response=response, response_protection=protection, note=note,
                     dur_ms=record.dur_ms, response_redacted=redacted)

    def _secure_channel(self, base: DecodedExchange, raw: bytes,
                        response: DecodedResponse) -> str:
        key, apdu = base.command.key, base.apdu
        if apdu is None or len(apdu) < 4 or response.sw is None:
            return ""
        if key == _HANDSHAKE[0]:
            return self.channels.initialize_update(base.line, apdu, raw)
        if key == _HANDSHAKE[1]:
            return self.channels.external_authenticate(apdu, raw)
        if apdu[1] == _INS_SELECT and response.sw == 0x9000:
            self.channels.selected(apdu[0])
        return ""


def decode_trace(lines: Sequence[TraceLine], keys: Sequence[KeySpec] = (), *,
                 source: str = "<trace>",
                 specs: Sequence[CommandSpec] = ()) -> Iterator[DecodedExchange | TraceEvent]:
    """The exchanges and events of a trace, decoded, in the order their answers came.

    ``keys``: what to try on each secure channel; ``specs``: command specs known besides
    the registered ones (an applet's own commands)."""
    chips: dict[str | None, _Chip] = {}
    pending: dict[str | None, TraceLine] = {}
    for line in lines:
        record = line.record
        chip = chips.get(record.chip) or chips.setdefault(record.chip, _Chip(keys, specs))
        if record.direction == "cmd":
            if record.chip in pending:
                yield chip.exchange(pending.pop(record.chip), None)
            pending[record.chip] = line
        elif record.direction in ("rsp", "error"):
            command = pending.pop(record.chip, None)
            if command is None:
                raise TraceFormatError(f"an answer ({record.direction}) with no command before "
                                       "it", source=source, line=line.line)
            yield chip.exchange(command, line)
        else:
            yield chip.event(line)
    for name, command in pending.items():
        yield chips[name].exchange(command, None)


def _header(record: TraceRecord) -> bytes:
    if record.cla is None:
        return b""
    return bytes((record.cla, record.ins or 0, record.p1 or 0, record.p2 or 0))


def _le(record: TraceRecord) -> bytes:
    le = bytes.fromhex(record.le_hex)
    return b"\x00" + le if len(le) == 2 else le


def _is_authenticate(header: bytes) -> bool:
    return header[1] == 0x82  # EXTERNAL AUTHENTICATE: its own MAC, checked by the handshake


def _with(base: DecodedExchange, **changes: object) -> DecodedExchange:
    return replace(base, **changes)  # type: ignore[arg-type]
