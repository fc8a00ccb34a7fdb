"""Decoded traces as text for a person, and as JSON for a program.

Text: one block per exchange, always in the same layout — a head line (where in the
trace, which chip, the command's name, its application and the time the card took),
the command as sent, what secure messaging did, the command's fields, the answer as
received and its status word's meaning, the answer's fields::

    line 4 [chip1] SELECT (iso7816)  60.6 ms
      >> 00A40400 08 A000000151000000 00
         selection: 04 (by DF name (AID))
         ...
      << 6F41…A5… 9000
         9000: success (selected)
         6F FCI template:
           84 DF name: A000000151000000

P1/P2 values are hex bytes, other numbers decimal, byte strings hex; BER-TLV data is
shown as a tree with the tag names of :mod:`apdu_specs.tags`; secrets as
``<what, N bytes>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from apdu_specs.apdu import split_command
from apdu_specs.commands.dissect import Concealed, DecodedCommand, DecodedResponse
from apdu_specs.hexutil import to_hex
from apdu_specs.tags import TAGS

from .decode import DecodedExchange, TraceEvent
from .secure import Protection, level_name

__all__ = ["render_text", "to_json"]

_STEP = "  "
_FIELDS = " " * 5


def render_text(items: Iterable[DecodedExchange | TraceEvent]) -> Iterator[str]:
    """The lines of the text rendering."""
    for item in items:
        if isinstance(item, TraceEvent):
            yield _event_line(item)
        else:
            yield from _exchange_lines(item)


def _event_line(event: TraceEvent) -> str:
    where = f" {event.reader}" if event.reader else ""
    atr = f"  ATR {to_hex(event.atr)}" if event.atr else ""
    return f"line {event.line}{_chip(event.chip)} -- {event.kind}{where}{atr}"


def _chip(chip: str | None) -> str:
    return f" [{chip}]" if chip else ""


def _exchange_lines(item: DecodedExchange) -> Iterator[str]:
    command = item.command
    app = f" — {command.spec.application}" if command.spec else ""
    timing = f"  {item.dur_ms:.1f} ms" if item.dur_ms is not None else ""
    yield f"line {item.line}{_chip(item.chip)} {command.name}{app}{timing}"
    yield f"{_STEP}>> {_apdu_text(item)}"
    if item.protection is not None:
        yield from _protection_lines(item.protection, "C-MAC")
    if item.note:
        yield _FIELDS + item.note
    yield from _command_fields(command)
    if item.error is not None:
        yield f"{_STEP}!! {item.error}"
    elif item.response is not None:
        yield from _response_lines(item.response, item)


def _apdu_text(item: DecodedExchange) -> str:
    """The command as sent (never its plain form: that may hold values under the DEK)."""
    if item.apdu is None:
        return f"{to_hex(item.command.parts.header)} … (data redacted in the trace)"
    parts = split_command(item.apdu)
    if not parts.well_formed:
        return " ".join(to_hex(f) for f in (parts.header, parts.data) if f) + "  (malformed APDU)"
    fields = (parts.header, parts.lc, parts.data, parts.le)
    return " ".join(to_hex(f) for f in fields if f)


def _protection_lines(protection: Protection, mac: str) -> Iterator[str]:
    yield (f"{_FIELDS}secure messaging: {protection.scp} {level_name(protection.level)} — "
           f"{protection.note}")
    if protection.plain is None and (protection.body or protection.mac):
        yield f"{_FIELDS}protected data: {_scalar(protection.body)}"
        yield f"{_FIELDS}{mac}: {_scalar(protection.mac)}"


def _command_fields(command: DecodedCommand) -> Iterator[str]:
    params = {command.spec.p1.name, command.spec.p2.name} if command.spec else set()
    for name, value in command.fields.items():
        if name in params:
            meaning = command.meanings.get(name)
            yield f"{_FIELDS}{name}: {value:02X}" + (f" ({meaning})" if meaning else "")
        else:
            yield from _value_lines(name, value, _FIELDS)
    if command.problem:
        yield f"{_FIELDS}problem: {command.problem}"


def _response_lines(response: DecodedResponse, item: DecodedExchange) -> Iterator[str]:
    body = "" if not response.data else to_hex(response.data) + " "
    if item.response_redacted:
        body = "… (data redacted in the trace) "
    sw = f"{response.sw:04X}" if response.sw is not None else ""
    yield f"{_STEP}<< {body}{sw}".rstrip()
    if item.response_protection is not None:
        yield from _protection_lines(item.response_protection, "R-MAC")
    if response.sw is not None:
        detail = f" ({response.detail})" if response.detail else ""
        yield f"{_FIELDS}{response.sw:04X}: {response.meaning}{detail}"
    if response.completes:
        yield f"{_FIELDS}the answer to {response.completes}, announced by 61xx"
    if response.fields is not None and response.fields != response.data:
        yield from _value_lines(None, response.fields, _FIELDS)
    if response.problem:
        yield f"{_FIELDS}problem: {response.problem}"


def _value_lines(name: str | None, value: Any, indent: str) -> Iterator[str]:
    label = f"{name}: " if name is not None else ""
    if _is_tlv(value):
        if name is not None:
            yield f"{indent}{name}:"
            indent += _STEP
        for entry in value:
            yield from _tlv_lines(entry, indent)
    elif isinstance(value, dict):
        if name is not None:
            yield f"{indent}{name}:"
            indent += _STEP
        for key, item in value.items():
            yield from _value_lines(str(key), item, indent)
    elif isinstance(value, list):
        yield f"{indent}{label}".rstrip() if value else f"{indent}{label}(none)"
        for element in value:
            lines = list(_value_lines(None, element, indent + _STEP + "  "))
            if lines:
                yield f"{indent}{_STEP}- " + lines[0].lstrip()
                yield from lines[1:]
    else:
        yield f"{indent}{label}{_scalar(value)}"


def _is_tlv(value: Any) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(v, dict) and set(v) == {"tag", "name", "value"} for v in value))


def _tlv_lines(entry: dict[str, Any], indent: str) -> Iterator[str]:
    head = f"{indent}{entry['tag']} {entry['name']}"
    value = entry["value"]
    if isinstance(value, list):
        yield head + ":"
        for child in value:
            yield from _tlv_lines(child, indent + _STEP)
        return
    yield f"{head}: {_scalar(value)}{_as_text(int(entry['tag'], 16), value)}"


def _as_text(tag: int, value: bytes) -> str:
    info = TAGS.get(tag)
    if info is None or info.fmt not in ("an", "ans") or not value:
        return ""
    text = value.decode("latin-1")
    return f' "{text}"' if text.isprintable() else ""


def _scalar(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return to_hex(bytes(value)) if value else "(empty)"
    if value is None:
        return "(none)"
    if isinstance(value, int) and not isinstance(value, bool) and value > 9:
        return f"{value} (0x{value:X})"
    return str(value)


# --- JSON ---------------------------------------------------------------------------------------


def to_json(item: DecodedExchange | TraceEvent) -> dict[str, Any]:
    """One exchange or event as JSON-ready values (bytes as hex, secrets as descriptions)."""
    if isinstance(item, TraceEvent):
        return {"line": item.line, "chip": item.chip, "event": item.kind,
                "atr": to_hex(item.atr) or None, "reader": item.reader}
    command = item.command
    out: dict[str, Any] = {
        "line": item.line, "chip": item.chip, "name": command.name, "spec": command.key,
        "command": {"apdu": None if item.apdu is None else to_hex(item.apdu),
                    "redacted": item.apdu is None, "fields": _plain(command.fields),
                    "meanings": command.meanings, "problem": command.problem,
                    "secure_messaging": _protection_json(item.protection)},
        "note": item.note or None, "error": item.error, "dur_ms": item.dur_ms,
        "response": _response_json(item),
    }
    return out


def _response_json(item: DecodedExchange) -> dict[str, Any] | None:
    response = item.response
    if response is None:
        return None
    return {"data": None if item.response_redacted else to_hex(response.data),
            "sw": None if response.sw is None else f"{response.sw:04X}",
            "meaning": response.meaning, "detail": response.detail or None,
            "fields": _plain(response.fields), "problem": response.problem,
            "completes": response.completes or None,
            "secure_messaging": _protection_json(item.response_protection)}


def _protection_json(protection: Protection | None) -> dict[str, Any] | None:
    if protection is None:
        return None
    return {"scp": protection.scp, "level": f"{protection.level:02X}",
            "level_name": level_name(protection.level), "unwrapped": protection.unwrapped,
            "note": protection.note, "data": to_hex(protection.body) or None,
            "mac": to_hex(protection.mac) or None}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return to_hex(bytes(value))
    if isinstance(value, Concealed):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
