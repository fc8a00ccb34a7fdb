"""Which parts of an answer may differ between recording and replay.

Random challenges and the cryptograms computed over them change on every run, so a
replay compares them only when nobody said they are volatile. A rule names commands
and the parts of their answers to ignore::

    GET CHALLENGE                          the whole response data
    gp:INITIALIZE UPDATE:card_challenge,card_cryptogram
                                           fields of the spec's response layout
    84                                     by INS (hex) — or CLA INS: 0084
    80CA:4-8                               response bytes 4 to 7 (end excluded)
    EXTERNAL AUTHENTICATE:sw               the status word too
    random                                 the built-in set (:data:`PRESETS`)

Commands are named as in ``apdu_specs`` (``application:NAME`` when a name is shared);
a named rule applies to a command only when that spec parses it, which tells apart
commands sharing an INS (GP INITIALIZE UPDATE and the purse's INITIALIZE FOR LOAD).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apdu_specs.commands import get as get_spec
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.commands.variants import field_names
from apdu_specs.errors import ProtocolError, SpecError

from ..errors import QAError

__all__ = ["PRESETS", "VolatileRule", "VolatileSet", "parse_volatile"]

#: answers that differ on every run by design (fresh randoms and what is computed over them)
PRESETS: dict[str, tuple[str, ...]] = {
    "random": (
        "iso7816:GET CHALLENGE",
        "gp:INITIALIZE UPDATE:card_challenge,card_cryptogram,sequence_counter",
        "purse:INITIALIZE FOR LOAD:random,mac1",
        "purse:INITIALIZE FOR PURCHASE:random",
    ),
}

_HEX_SELECTOR = re.compile(r"[0-9A-Fa-f]{2}(?:[0-9A-Fa-f]{2})?")
_RANGE = re.compile(r"(\d+)-(\d+)")


@dataclass(frozen=True)
class VolatileRule:
    """Commands this applies to (a spec, or CLA/INS), and what of their answer to ignore."""

    text: str
    spec: CommandSpec | None = None
    cla: int | None = None
    ins: int | None = None
    fields: frozenset[str] = frozenset()
    ranges: tuple[tuple[int, int], ...] = ()
    whole_data: bool = False
    sw: bool = False

    def applies_to(self, command: bytes) -> bool:
        if len(command) < 4:
            return False
        if self.spec is not None:
            try:
                self.spec.parse(command)
            except ProtocolError:
                return False
            return (command[0] & 0x80) == (self.spec.cla & 0x80)
        return command[1] == self.ins and (self.cla is None or command[0] == self.cla)


@dataclass(frozen=True)
class VolatileSet:
    rules: tuple[VolatileRule, ...] = ()

    def for_command(self, command: bytes) -> list[VolatileRule]:
        return [r for r in self.rules if r.applies_to(command)]

    def data_equal(self, command: bytes, recorded: bytes, actual: bytes) -> bool:
        """Response data equal once the volatile parts are left out."""
        rules = self.for_command(command)
        if any(r.whole_data for r in rules):
            return True
        for rule in rules:
            recorded, actual = _mask(recorded, rule.ranges), _mask(actual, rule.ranges)
        fields = frozenset().union(*(r.fields for r in rules)) if rules else frozenset()
        if fields:
            spec = next(r.spec for r in rules if r.fields and r.spec is not None)
            return _fields_equal(spec, recorded, actual, fields)
        return recorded == actual

    def sw_volatile(self, command: bytes) -> bool:
        return any(r.sw for r in self.for_command(command))


def parse_volatile(items: Iterable[str]) -> VolatileSet:
    """Rules from ``--volatile`` values (presets expanded)."""
    rules: list[VolatileRule] = []
    for item in items:
        for text in PRESETS.get(item.strip().lower(), (item,)):
            rules.append(_parse_rule(text))
    return VolatileSet(tuple(rules))


def _parse_rule(text: str) -> VolatileRule:
    selector, parts = _split(text)
    fields: set[str] = set()
    ranges: list[tuple[int, int]] = []
    sw = False
    whole = not parts
    for part in parts:
        if part == "sw":
            sw = True
        elif part == "data":
            whole = True
        elif (m := _RANGE.fullmatch(part)) is not None:
            start, end = int(m.group(1)), int(m.group(2))
            if end <= start:
                raise QAError(f"volatile byte range {part!r} is empty (end is excluded)")
            ranges.append((start, end))
        else:
            fields.add(part)
    if _HEX_SELECTOR.fullmatch(selector):
        if fields:
            raise QAError(f"volatile rule {text!r}: fields need a command name, not an INS")
        raw = bytes.fromhex(selector)
        cla, ins = (None, raw[0]) if len(raw) == 1 else (raw[0], raw[1])
        return VolatileRule(text, None, cla, ins, frozenset(), tuple(ranges), whole, sw)
    try:
        spec = get_spec(selector)
    except SpecError as exc:
        raise QAError(f"volatile rule {text!r}: {exc} (write application:NAME)") from None
    unknown = fields - set(_response_fields(spec))
    if unknown:
        known = ", ".join(_response_fields(spec)) or "none (raw data: use a byte range)"
        raise QAError(f"volatile rule {text!r}: {spec.key} has no response field "
                      f"{', '.join(sorted(unknown))}; its fields: {known}")
    return VolatileRule(text, spec, None, None, frozenset(fields), tuple(ranges), whole, sw)


def _split(text: str) -> tuple[str, list[str]]:
    """``[app:]NAME[:parts]`` or ``HEX[:parts]`` → selector, parts."""
    pieces = [p.strip() for p in text.strip().split(":")]
    if not pieces[0]:
        raise QAError("empty volatile rule")
    if len(pieces) >= 2 and not _HEX_SELECTOR.fullmatch(pieces[0]) \
            and _is_spec_key(f"{pieces[0]}:{pieces[1]}"):
        selector, rest = f"{pieces[0]}:{pieces[1]}", pieces[2:]
    else:
        selector, rest = pieces[0], pieces[1:]
    parts = [p.strip() for chunk in rest for p in chunk.split(",") if p.strip()]
    return selector, parts


def _is_spec_key(key: str) -> bool:
    try:
        return get_spec(key).key == key
    except SpecError:
        return False


def _response_fields(spec: CommandSpec) -> list[str]:
    return field_names(spec.response)


def _mask(data: bytes, ranges: tuple[tuple[int, int], ...]) -> bytes:
    out = bytearray(data)
    for start, end in ranges:
        for i in range(start, min(end, len(out))):
            out[i] = 0
    return bytes(out)


def _fields_equal(spec: CommandSpec, recorded: bytes, actual: bytes,
                  ignore: frozenset[str]) -> bool:
    try:
        left: Any = spec.parse_response(recorded)
        right: Any = spec.parse_response(actual)
    except SpecError:
        return recorded == actual
    if not isinstance(left, dict) or not isinstance(right, dict):
        return recorded == actual
    return ({k: v for k, v in left.items() if k not in ignore}
            == {k: v for k, v in right.items() if k not in ignore})
