"""Record a session as JSON Lines, replay it against a card, diff the answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.qa_cmds import replay
from host.qa import QAError, TraceFormatError
from host.qa.replay import Exchange, PowerEvent, parse_trace, parse_volatile, replay_events
from host.testing import simulated_link
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport
from host.transport.trace import HumanTraceWriter, JSONLinesTraceWriter, Tracer, TracingTransport

pytestmark = pytest.mark.sim

SELECT_PURSE = bytes.fromhex("00A4040007F0000000020101")
BALANCE = bytes.fromhex("805C000204")
INIT_LOAD = bytes.fromhex("805000020B0100001C37000001000050")  # answers a fresh random + MAC1
VERIFY_PIN = bytes.fromhex("0020000003123456")


def record(card, commands: list[bytes], *, reset_first: bool = False,
           writer: type = JSONLinesTraceWriter) -> str:
    """The trace of ``commands`` sent to chip 2 (as ``--trace-format json`` writes, or
    the human lines of ``--trace`` with ``writer=HumanTraceWriter``)."""
    out = io.StringIO()
    raw = TracingTransport(SimTransport(card.runtime(2), "sim#chip2"),
                           Tracer(writer(out), chip="chip2", reader="sim"))
    transport = T0Transport(raw)
    transport.connect()
    if reset_first:
        transport.reset()
    for command in commands:
        transport.transmit(command)
    return out.getvalue()


def raw_link(card) -> dict[int, SimTransport]:
    link = simulated_link(card)
    return {n: t.inner for n, t in link.transports.items()}  # type: ignore[attr-defined]


def test_records_pair_into_exchanges(sim_card) -> None:
    events = parse_trace(record(sim_card, [SELECT_PURSE, BALANCE], reset_first=True).splitlines())
    kinds = [type(e).__name__ if isinstance(e, Exchange) else e.kind for e in events]
    assert kinds == ["connect", "reset", "Exchange", "Exchange", "Exchange"]  # 61xx, GET RESPONSE
    assert isinstance(events[0], PowerEvent) and events[0].atr == sim_card.chip2.atr
    assert events[2].command == SELECT_PURSE and events[2].response[-2] == 0x61
    assert events[4].command == BALANCE and events[4].response == bytes.fromhex("000000009000")


@pytest.mark.parametrize("apdu", ["80CA9F7F00", "00A4040007F0000000020101",
                                  "805000020B0100001C3700000100005000", "00B2010C", "00840000",
                                  "8050000000FFFF", "80E20000" "00012C" + "00" * 300])
def test_commands_are_rebuilt_byte_for_byte(apdu: str) -> None:
    from apdu_specs.apdu import split_command
    from host.transport.trace import format_json

    raw = bytes.fromhex(apdu)
    shape = split_command(raw)
    line = format_json(_cmd_record(raw, shape))
    answer = json.dumps({"dir": "rsp", "chip": "chip1", "data_hex": "", "sw": "9000"})
    (event,) = parse_trace([line, answer])
    assert event.command == raw


def _cmd_record(raw, shape):  # type: ignore[no-untyped-def]
    from host.transport.trace import TraceRecord

    cla, ins, p1, p2 = shape.header
    return TraceRecord(0.0, "cmd", "chip1", None, cla, ins, p1, p2, shape.lc.hex().upper(),
                       shape.data.hex().upper(), shape.le.hex().upper())


def test_replaying_on_an_identical_card_matches(sim_card) -> None:
    trace = record(sim_card.fork(), [SELECT_PURSE, BALANCE])
    result = replay_events(parse_trace(trace.splitlines()), raw_link(sim_card))
    assert result.ok and result.replayed == 3


def test_a_different_card_is_reported(sim_card, sample_card_data) -> None:
    from host.points import LoadHost, PointsClient, Purse

    trace = record(sim_card.fork(), [SELECT_PURSE, BALANCE])
    PointsClient(simulated_link(sim_card).chip(2)).load(
        Purse.BANK, 7, LoadHost(sample_card_data.purse_keys), terminal_id=bytes(6))
    result = replay_events(parse_trace(trace.splitlines()), raw_link(sim_card))
    (mismatch,) = result.mismatches
    assert mismatch.what == "response data differ (first at byte 3)"
    assert mismatch.expected.startswith("00000000 9000") and mismatch.actual.startswith("00000007")
    assert "recorded:" in str(mismatch)


def test_random_answers_need_declaring_volatile(sim_card) -> None:
    trace = record(sim_card.fork(), [SELECT_PURSE, INIT_LOAD])
    events = parse_trace(trace.splitlines())
    assert not replay_events(events, raw_link(sim_card.fork())).ok
    for rules in (["random"], ["purse:INITIALIZE FOR LOAD:random,mac1"], ["8050:8-16"]):
        assert replay_events(events, raw_link(sim_card.fork()),
                             volatile=parse_volatile(rules)).ok, rules
    # the balance field is not volatile: a different balance is still caught
    partial = parse_volatile(["purse:INITIALIZE FOR LOAD:mac1"])
    assert not replay_events(events, raw_link(sim_card.fork()), volatile=partial).ok


def test_redacted_commands_are_refused_or_skipped(sim_card) -> None:
    events = parse_trace(record(sim_card.fork(), [SELECT_PURSE, VERIFY_PIN]).splitlines())
    assert any(isinstance(e, Exchange) and e.redacted for e in events)
    with pytest.raises(ValueError, match="redacted"):
        replay_events(events, raw_link(sim_card))
    result = replay_events(events, raw_link(sim_card), skip_redacted=True)
    assert result.ok and len(result.skipped) == 1


def test_a_card_pulled_out_stops_the_replay(sim_card, card_faults) -> None:
    events = parse_trace(record(sim_card.fork(), [SELECT_PURSE, BALANCE, BALANCE]).splitlines())
    card_faults.mute(chip=2, ins=0x5C)
    result = replay_events(events, raw_link(sim_card))
    assert result.stopped_at is not None and "did not answer" in result.mismatches[0].what


def test_a_human_trace_replays_too(sim_card) -> None:
    trace = record(sim_card.fork(), [SELECT_PURSE, BALANCE], writer=HumanTraceWriter)
    events = parse_trace(trace.splitlines())
    assert [e.command for e in events if isinstance(e, Exchange)][::2] == [SELECT_PURSE, BALANCE]
    assert replay_events(events, raw_link(sim_card)).ok


def test_atr_differences_are_reported_unless_told(sim_card) -> None:
    trace = record(sim_card.fork(), [BALANCE]).replace(sim_card.chip2.atr.hex().upper(), "3B00")
    events = parse_trace(trace.splitlines())
    assert replay_events(events, raw_link(sim_card)).mismatches[0].what == "ATR after connect"
    assert replay_events(events, raw_link(sim_card), check_atr=False).ok


@pytest.mark.parametrize(("lines", "message"), [
    (["{not json"], "not JSON"),
    (['{"dir": "rsp", "sw": "9000"}'], "without a command"),
    (['{"dir": "cmd", "cla": "00", "ins": "A4", "p1": "04", "p2": "00"}'], "ends before"),
    (['{"dir": "cmd", "cla": "00", "ins": "A4", "p1": "04", "p2": "00"}',
      '{"dir": "rsp", "sw": "90"}'], "two-byte status word"),
    (['{"dir": "sideways"}'], "unknown record direction"),
    (['{"dir": "connect", "chip": "chip7"}'], "chip1 and chip2"),
    (['{"dir": "cmd", "cla": "0", "ins": "A4", "p1": "04", "p2": "00"}',
      '{"dir": "rsp", "sw": "9000"}'], "odd number"),
])
def test_malformed_traces_name_the_line(lines: list[str], message: str) -> None:
    with pytest.raises(TraceFormatError, match=message):
        parse_trace(lines, source="t.jsonl")


@pytest.mark.parametrize(("rule", "message"), [
    ("NO SUCH COMMAND", "no unique command spec"),
    ("READ RECORD", "no unique command spec"),
    ("purse:GET BALANCE:nonsense", "no response field nonsense"),
    ("84:field", "fields need a command name"),
    ("84:8-4", "empty"),
])
def test_bad_volatile_rules_are_explained(rule: str, message: str) -> None:
    with pytest.raises(QAError, match=message):
        parse_volatile([rule])


# --- the command ---------------------------------------------------------------------------

def test_the_command_exits_6_on_differences_and_0_without(sim_card, tmp_path: Path) -> None:
    image = tmp_path / "card.json"
    sim_card.fork().save(image)
    trace = tmp_path / "session.jsonl"
    trace.write_text(record(sim_card.fork(), [SELECT_PURSE, INIT_LOAD]))
    differs = CliRunner().invoke(replay, [str(trace), "--reader", f"sim:{image}"])
    assert differs.exit_code == 6 and "differ" in differs.output
    same = CliRunner().invoke(replay, [str(trace), "--reader", f"sim:{image}",
                                       "--volatile", "random", "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.output)["replayed"] == 4  # both answers came through GET RESPONSE


def test_the_command_reads_chip_from_records(sim_card, tmp_path: Path) -> None:
    image = tmp_path / "card.json"
    sim_card.fork().save(image)
    trace = tmp_path / "t.jsonl"
    trace.write_text(record(sim_card.fork(), [SELECT_PURSE, BALANCE]))
    result = CliRunner().invoke(replay, [str(trace), "--reader", f"sim:{image}"])
    assert result.exit_code == 0 and "3 commands replayed, 0 differ" in result.output

