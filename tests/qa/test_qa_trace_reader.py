"""Reading traces back: whatever the tracer wrote, in either format, gives the same bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.qa.errors import TraceFormatError
from host.qa.trace import command_bytes, read_trace_lines
from host.transport.trace import Tracer, TraceRecord, format_human, format_json

pytestmark = pytest.mark.unit

RENDER = {"human": format_human, "json": format_json}


def _written(command: bytes, response: bytes, fmt: str, *, redact: bool = False) -> list[str]:
    records: list[TraceRecord] = []
    tracer = Tracer(records.append, chip="chip2", **({} if redact else {"redact": None}))
    tracer.exchange(command, response, ts=1_700_000_000.0, dur_ms=1.5)
    return [RENDER[fmt](r) for r in records]


def _answer(record: TraceRecord) -> bytes:
    data = bytes.fromhex(record.data_hex)
    return data + (record.sw.to_bytes(2, "big") if record.sw is not None else b"")


@settings(max_examples=300, deadline=None)
@given(command=st.binary(max_size=300), response=st.binary(max_size=40),
       fmt=st.sampled_from(sorted(RENDER)))
def test_any_exchange_reads_back_byte_for_byte(command: bytes, response: bytes, fmt: str) -> None:
    cmd, rsp = read_trace_lines(_written(command, response, fmt))
    assert (cmd.record.direction, rsp.record.direction) == ("cmd", "rsp")
    assert cmd.record.chip == rsp.record.chip == "chip2"
    assert command_bytes(cmd.record) == command
    assert _answer(rsp.record) == response
    assert rsp.record.dur_ms == 1.5  # the human format keeps 0.1 ms


@pytest.mark.parametrize("fmt", sorted(RENDER))
def test_redacted_data_keeps_the_header_and_the_name(fmt: str) -> None:
    cmd, _ = read_trace_lines(_written(bytes.fromhex("0020008008241234FFFFFFFFFF"),
                                       b"\x90\x00", fmt, redact=True))
    assert command_bytes(cmd.record) is None and cmd.record.redacted
    assert (cmd.record.ins, cmd.record.name, cmd.record.data_hex) == (0x20, "VERIFY", "*" * 16)


@pytest.mark.parametrize(("line", "apdu"), [
    ("[chip1] >> 00B00000 0100", "00B00000000100"),  # case 2E as older tracers wrote it
    ('{"dir": "cmd", "cla": "00", "ins": "A4", "p1": "04", "p2": "00", '
     '"data_hex": "A000000151000000", "le": "00"}', "00A4040008A00000015100000000"),
    ('{"dir": "cmd", "cla": "80", "ins": "E2", "p1": "00", "p2": "00", '
     '"data_hex": "' + "00" * 300 + '"}', "80E20000" "00012C" + "00" * 300),
])
def test_traces_of_older_tracers_still_read(line: str, apdu: str) -> None:
    (read,) = read_trace_lines([line])
    assert command_bytes(read.record) == bytes.fromhex(apdu)


def test_events_comments_and_blank_lines() -> None:
    lines = read_trace_lines([
        "# recorded at the bench", "",
        "[chip1] -- connect Virtual PCD 00 00  ATR 3B8C80  1.5 ms",
        "[chip1] -- reset  ATR 3B8C80",
        "[chip1] !! CardRemovedError: card removed  0.3 ms",
        "-- disconnect",
        json.dumps({"dir": "reset", "chip": "chip2", "data_hex": "3B00"}),
    ])
    assert [(t.line, t.record.direction) for t in lines] == [
        (3, "connect"), (4, "reset"), (5, "error"), (6, "disconnect"), (7, "reset")]
    assert (lines[0].record.reader, lines[0].record.data_hex, lines[0].record.dur_ms) == (
        "Virtual PCD 00 00", "3B8C80", 1.5)
    assert lines[2].record.error == "CardRemovedError: card removed"


def test_errors_name_the_source_and_line() -> None:
    with pytest.raises(TraceFormatError) as raised:
        read_trace_lines(["[chip1] >> 00A40400 (SELECT)", "[chip1] << 9000", "garbage"],
                         source="bench.trace")
    assert (raised.value.source, raised.value.line) == ("bench.trace", 3)
    assert str(raised.value) == "bench.trace:3: not a trace line: 'garbage'"
