"""One declarative spec per command, used everywhere.

A :class:`CommandSpec` states CLA/INS, what P1 and P2 mean, the layout of the
command data and of the response (``construct``), the status words the command
may answer, its security condition, the section it follows, and examples
(hex ↔ fields). The card dispatcher, the typed host clients, the trace decoder,
the conformance suite and ``docs/apdu-reference.md`` all read the same entry, so
nobody assembles hex by hand.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import construct

from ..apdu import CommandAPDU
from ..errors import APDUFormatError, SpecError
from ..hexutil import parse_hex
from ._fast_layout import FastLayout, FastVariants, fast_layout

__all__ = ["CommandSpec", "Example", "Param", "to_plain"]


@dataclass(frozen=True)
class Param:
    """P1 or P2: either fixed, or a named field whose known values are documented.

    ``strict`` makes values outside ``values`` a parse error (the card answers
    6A86 for them).
    """

    name: str
    values: Mapping[int, str] = field(default_factory=dict)
    fixed: int | None = None
    doc: str = ""
    strict: bool = False

    def check(self, value: int, which: str, command: str) -> int:
        if (type(value) is int and 0 <= value <= 0xFF and self.fixed is None
                and not self.strict):
            return value  # the common case of a free P1/P2, decided in one expression
        if not isinstance(value, int) or not 0 <= value <= 0xFF:
            raise SpecError(f"{command}: {which} ({self.name}) must be a byte, got {value!r}", 0x6A86)
        if self.fixed is not None and value != self.fixed:
            raise SpecError(f"{command}: {which} must be {self.fixed:02X}, got {value:02X}", 0x6A86)
        if self.strict and self.values and value not in self.values:
            raise SpecError(f"{command}: {which} ({self.name}) {value:02X} is not one of "
                            + ", ".join(f"{v:02X}" for v in self.values), 0x6A86)
        return value

    def describe(self) -> str:
        if self.fixed is not None:
            return f"{self.fixed:02X}" + (f" — {self.doc}" if self.doc else "")
        parts = [self.name] + ([self.doc] if self.doc else [])
        if self.values:
            parts.append("; ".join(f"{k:02X} {v}" for k, v in self.values.items()))
        return ": ".join(parts[:1]) + (" — " + " · ".join(parts[1:]) if len(parts) > 1 else "")


FIXED_00 = Param("p", fixed=0x00)


@dataclass(frozen=True)
class Example:
    """A command (and optionally its response) in hex, with the fields it decodes to."""

    title: str
    command: str
    fields: Mapping[str, Any]
    response: str | None = None
    response_fields: Mapping[str, Any] | None = None


def to_plain(value: Any) -> Any:
    """construct containers → plain dicts/lists (private ``_`` keys dropped)."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, construct.EnumIntegerString):
        return str(value)
    return value


@dataclass(frozen=True)
class CommandSpec:
    name: str
    application: str
    cla: int
    ins: int
    summary: str
    reference: str
    p1: Param = FIXED_00
    p2: Param = FIXED_00
    data: construct.Construct | None = None
    data_doc: str = ""
    response: construct.Construct | None = None
    response_doc: str = ""
    ne: int | None = None
    sws: Mapping[int, str] = field(default_factory=dict)
    security: str = "none"
    examples: tuple[Example, ...] = ()
    data_required: bool = True

    @property
    def key(self) -> str:
        return f"{self.application}:{self.name}"

    @functools.cached_property
    def _fast_data(self) -> FastLayout | FastVariants | None:
        """The fast path of the data layout (derived from it once, see ``_fast_layout``)."""
        return None if self.data is None else fast_layout(self.data)

    @functools.cached_property
    def _fast_response(self) -> FastLayout | FastVariants | None:
        return None if self.response is None else fast_layout(self.response)

    # --- building ----------------------------------------------------------------
    def build(self, fields: Mapping[str, Any] | None = None, /, *, cla: int | None = None,
              **kw: Any) -> CommandAPDU:
        """A command APDU from named fields (P1/P2 names, ``data``, ``ne``)."""
        f = dict(fields, **kw) if fields else kw  # kw is already a fresh dict
        p1_spec, p2_spec = self.p1, self.p2
        p1 = p1_spec.fixed if p1_spec.fixed is not None else f.get(p1_spec.name)
        p2 = p2_spec.fixed if p2_spec.fixed is not None else f.get(p2_spec.name)
        if p1 is None or p2 is None:
            missing = p1_spec.name if p1 is None else p2_spec.name
            raise SpecError(f"{self.name}: field {missing!r} is required")
        if p1_spec.fixed is None:  # a fixed value is the spec's own
            p1_spec.check(p1, "P1", self.name)
        if p2_spec.fixed is None:
            p2_spec.check(p2, "P2", self.name)
        data = self.build_data(f.get("data"))
        ne = f.get("ne", self.ne)
        try:
            return CommandAPDU(self.cla if cla is None else cla, self.ins, p1, p2, data, ne)
        except APDUFormatError as exc:
            raise SpecError(f"{self.name}: {exc}") from None

    def build_data(self, value: Any) -> bytes:
        if self.data is None:
            if value not in (None, b"", {}):
                raise SpecError(f"{self.name} carries no command data")
            return b""
        if value is None:
            if self.data_required:
                raise SpecError(f"{self.name}: field 'data' is required")
            return b""
        fast = self._fast_data
        if fast is not None:
            built = fast.build(value)
            if built is not None:
                return built
        try:
            return bytes(self.data.build(value))
        except (construct.ConstructError, TypeError, ValueError, KeyError) as exc:
            raise SpecError(f"{self.name}: cannot build data: {_first_line(exc)}") from None

    # --- parsing -----------------------------------------------------------------
    def parse(self, apdu: CommandAPDU | bytes) -> dict[str, Any]:
        """Fields of a command APDU; :class:`SpecError` if it does not fit this spec."""
        if not isinstance(apdu, CommandAPDU):
            apdu = CommandAPDU.parse(apdu)
        if apdu.ins != self.ins:
            raise SpecError(f"{self.name}: INS {apdu.ins:02X} is not {self.ins:02X}", 0x6D00)
        out: dict[str, Any] = {}
        p1, p2 = self.p1, self.p2
        if p1.fixed is None:
            out[p1.name] = p1.check(apdu.p1, "P1", self.name)
        elif apdu.p1 != p1.fixed or p1.strict:
            p1.check(apdu.p1, "P1", self.name)  # raises, naming the expected value
        if p2.fixed is None:
            out[p2.name] = p2.check(apdu.p2, "P2", self.name)
        elif apdu.p2 != p2.fixed or p2.strict:
            p2.check(apdu.p2, "P2", self.name)
        if self.data is not None and (apdu.data or self.data_required):
            out["data"] = self.parse_data(apdu.data)
        elif self.data is None and apdu.data:
            raise SpecError(f"{self.name} takes no command data, got {len(apdu.data)} bytes", 0x6700)
        if apdu.ne is not None:
            out["ne"] = apdu.ne
        return out

    def parse_data(self, data: bytes) -> Any:
        assert self.data is not None
        fast = self._fast_data
        if fast is not None:
            parsed = fast.parse(data, exact=True)
            if parsed is not None:
                return parsed
        stream = io.BytesIO(data)
        try:
            parsed = self.data.parse_stream(stream)
        except construct.ConstructError as exc:
            raise SpecError(f"{self.name}: malformed data: {_first_line(exc)}", 0x6700) from None
        extra = len(data) - stream.tell()
        if extra:
            raise SpecError(f"{self.name}: {extra} unexpected trailing bytes", 0x6700)
        return to_plain(parsed)

    def parse_response(self, data: bytes) -> Any:
        if self.response is None:
            return data
        fast = self._fast_response
        if fast is not None:
            parsed = fast.parse(data, exact=False)
            if parsed is not None:
                return parsed
        try:
            return to_plain(self.response.parse(data))
        except construct.ConstructError as exc:
            raise SpecError(f"{self.name}: malformed response: {_first_line(exc)}") from None

    def build_response(self, value: Any) -> bytes:
        if self.response is None:
            return bytes(value or b"")
        fast = self._fast_response
        if fast is not None:
            built = fast.build(value)
            if built is not None:
                return built
        try:
            return bytes(self.response.build(value))
        except (construct.ConstructError, TypeError, ValueError, KeyError) as exc:
            raise SpecError(f"{self.name}: cannot build response: {_first_line(exc)}") from None

    def example_apdus(self) -> list[CommandAPDU]:
        return [CommandAPDU.parse(parse_hex(e.command)) for e in self.examples]


def _first_line(exc: Exception) -> str:
    """What construct says went wrong, and where: ``construct`` words an error as
    ``Error in path (parsing) -> field`` and the reason on the next line."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    where, _, field = lines[0].partition(" -> ")
    if len(lines) == 1 or not where.startswith("Error in path"):
        return lines[0]
    return f"{lines[1]} (at {field})" if field else lines[1]
