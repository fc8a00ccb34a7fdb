"""APDU tracing: one record stream, human and JSON Lines renderings, redaction first."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import pytest

from host.transport.base import TransportFailure
from host.transport.t0 import T0Transport
from host.transport.trace import (
    HumanTraceWriter,
    JSONLinesTraceWriter,
    Tracer,
    TraceRecord,
    TracingTransport,
    format_human,
    format_json,
    redact_commands,
    slot_trace_hook,
)
from simulator.vpcd.toy_chip import TOY_ATR, ToyChip

pytestmark = pytest.mark.unit

SW_TEXT = {0x9000: "Success", 0x6A82: "File or application not found"}


class ChipTransport:
    """A Transport straight onto a toy chip; INS EE raises to exercise failures."""

    def __init__(self) -> None:
        self.chip = ToyChip()

    @property
    def atr(self) -> bytes:
        return self.chip.atr

    def connect(self) -> None:
        self.chip.power_on()

    def disconnect(self) -> None:
        self.chip.power_off()

    def reset(self) -> bytes:
        return self.chip.reset()

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xEE:
            raise TransportFailure("reader unplugged")
        if apdu[1] == 0x20:
            return b"\x63\xc2"
        return self.chip.transmit(apdu)


def ticking(step: float, start: float = 0.0) -> Callable[[], float]:
    """A clock advancing by ``step`` seconds on every reading."""
    values: Iterator[float] = (start + i * step for i in range(1_000_000))
    return lambda: next(values)


def traced(*sinks: Callable[[TraceRecord], None], chip: str | None = None,
           **tracer_options: object) -> TracingTransport:
    tracer = Tracer(*sinks, chip=chip, reader="Virtual PCD 00 00", **tracer_options)
    return TracingTransport(ChipTransport(), tracer, clock=ticking(0.0012),
                            wall_clock=ticking(1.0, start=1_700_000_000.0))


def run_session(transport: TracingTransport) -> None:
    transport.connect()
    transport.transmit(bytes.fromhex("00A4040007F000000001000100"))
    transport.transmit(bytes.fromhex("0020008008241234FFFFFFFFFF"))
    transport.reset()
    transport.disconnect()


def test_human_lines_golden() -> None:
    out = io.StringIO()
    run_session(traced(HumanTraceWriter(out, lambda sw: SW_TEXT.get(sw, "?"))))
    assert out.getvalue().splitlines() == [
        f"-- connect Virtual PCD 00 00  ATR {TOY_ATR.hex().upper()}  1.2 ms",
        ">> 00A40400 07 F0000000010001 00 (SELECT)",
        "<< 9000  1.2 ms  Success",
        ">> 00200080 08 **************** (VERIFY)",
        "<< 63C2  1.2 ms  ?",
        f"-- reset  ATR {TOY_ATR.hex().upper()}  1.2 ms",
        "-- disconnect",
    ]


def test_human_lines_without_sw_lookup_and_with_chip_prefix() -> None:
    out = io.StringIO()
    transport = T0Transport(traced(HumanTraceWriter(out), chip="chip2"))
    transport.connect()
    response = transport.transmit(bytes.fromhex("00B0000000"))
    assert response[-2:] == b"\x90\x00"
    lines = out.getvalue().splitlines()
    assert lines[1:4] == ["[chip2] >> 00B00000 00 (unknown INS B0)", "[chip2] << 6100  1.2 ms",
                          "[chip2] >> 00C00000 00 (GET RESPONSE)"]
    assert lines[4] == f"[chip2] << {bytes(range(256)).hex().upper()} 9000  1.2 ms"


def test_json_lines_golden() -> None:
    out = io.StringIO()
    run_session(traced(JSONLinesTraceWriter(out), chip="chip1"))
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["dir"] for r in rows] == ["connect", "cmd", "rsp", "cmd", "rsp", "reset",
                                         "disconnect"]
    assert rows[1] == {
        "ts": 1_700_000_001.0, "chip": "chip1", "reader": "Virtual PCD 00 00", "dir": "cmd",
        "name": "SELECT", "cla": "00", "ins": "A4", "p1": "04", "p2": "00", "lc": "07",
        "data_hex": "F0000000010001",
        "le": "00", "sw": None, "dur_ms": None, "redacted": False, "error": None,
    }
    assert rows[2] == {
        "ts": 1_700_000_001.0012, "chip": "chip1", "reader": "Virtual PCD 00 00", "dir": "rsp",
        "name": "SELECT", "cla": "00", "ins": "A4", "p1": "04", "p2": "00", "lc": None,
        "data_hex": "", "le": None,
        "sw": "9000", "dur_ms": 1.2, "redacted": False, "error": None,
    }
    assert rows[3]["data_hex"] == "*" * 16 and rows[3]["redacted"] is True


def test_redaction_happens_before_any_sink() -> None:
    human, machine = io.StringIO(), io.StringIO()
    run_session(traced(HumanTraceWriter(human), JSONLinesTraceWriter(machine)))
    for text in (human.getvalue(), machine.getvalue()):
        assert "241234FF" not in text


def test_custom_redactor_can_mask_responses_and_none_disables() -> None:
    records: list[TraceRecord] = []
    transport = traced(records.append, redact=redact_commands({0xB0}, responses=True))
    transport.connect()
    transport.transmit(bytes.fromhex("00B0000000"))
    transport.transmit(bytes.fromhex("00C0000000"))
    assert records[-1].data_hex == bytes(range(256)).hex().upper()  # INS C0 not listed
    plain: list[TraceRecord] = []
    run_session(traced(plain.append, redact=None))
    assert plain[3].data_hex == "241234FFFFFFFFFF"


def test_transmit_failures_are_traced_and_re_raised() -> None:
    out = io.StringIO()
    transport = traced(HumanTraceWriter(out))
    transport.connect()
    with pytest.raises(TransportFailure):
        transport.transmit(bytes.fromhex("00EE0000"))
    assert out.getvalue().splitlines()[1:] == [
        ">> 00EE0000 (unknown INS EE)", "!! TransportFailure: reader unplugged  1.2 ms"]


@pytest.mark.parametrize(
    ("apdu", "line"),
    [("00A4", ">> 00A4  (malformed APDU)"),
     ("00A4040005AABB", ">> 00A40400 05AABB  (malformed APDU)"),
     ("00B00000000100", ">> 00B00000 000100 (unknown INS B0)"),
     ("00A40400000002AABB0000", ">> 00A40400 000002 AABB 0000 (SELECT)")],
)
def test_command_line_shapes(apdu: str, line: str) -> None:
    records: list[TraceRecord] = []
    Tracer(records.append).exchange(bytes.fromhex(apdu), b"\x90\x00", ts=0.0, dur_ms=0.5)
    assert format_human(records[0]) == line


def test_response_without_status_word_is_rendered_raw() -> None:
    records: list[TraceRecord] = []
    Tracer(records.append).exchange(bytes.fromhex("00A40400"), b"\x90", ts=0.0, dur_ms=0.5)
    assert format_human(records[1]) == "<< 90  0.5 ms"
    assert json.loads(format_json(records[1]))["sw"] is None


def test_slot_trace_hook_routes_bridge_exchanges_by_slot() -> None:
    chip1: list[TraceRecord] = []
    chip2: list[TraceRecord] = []
    hook = slot_trace_hook([Tracer(chip1.append, chip="chip1"), Tracer(chip2.append, chip="chip2")],
                           wall_clock=lambda: 100.0)
    hook(1, bytes.fromhex("00A40400"), b"\x90\x00", 0.002)
    assert chip1 == []
    assert [format_human(r) for r in chip2] == ["[chip2] >> 00A40400 (SELECT)",
                                                "[chip2] << 9000  2.0 ms"]
    assert chip2[0].ts == pytest.approx(99.998)


def test_each_command_is_named_from_the_specs() -> None:
    records: list[TraceRecord] = []
    tracer = Tracer(records.append, chip="chip2")
    for apdu, answer in (("00A4040007F000000002010100", "9000"),
                         ("00B201CC20", "6A83"),                      # the purse's log
                         ("805000020B0100001C37000001000050", "9000"),  # P2 02: a purse
                         ("8050000008AABBCCDDEEFF001100", "9000"),      # P2 00: GP
                         ("00CB3FFF00", "6D00")):
        tracer.exchange(bytes.fromhex(apdu), bytes.fromhex(answer), ts=0.0, dur_ms=0.1)
    commands = [r for r in records if r.direction == "cmd"]
    assert [r.name for r in commands] == ["SELECT", "READ RECORD", "INITIALIZE FOR LOAD",
                                          "INITIALIZE UPDATE", "unknown INS CB"]
    assert [r.name for r in records if r.direction == "rsp"] == [r.name for r in commands]
    assert format_human(commands[2]) == (
        "[chip2] >> 80500002 0B 0100001C37000001000050 (INITIALIZE FOR LOAD)")
    assert json.loads(format_json(commands[2]))["name"] == "INITIALIZE FOR LOAD"


def test_naming_can_be_turned_off() -> None:
    records: list[TraceRecord] = []
    Tracer(records.append, name_commands=False).exchange(
        bytes.fromhex("00A4040007F000000002010100"), b"\x90\x00", ts=0.0, dur_ms=0.1)
    assert records[0].name is None
    assert format_human(records[0]) == ">> 00A40400 07 F0000000020101 00"
