"""APDU scripts: scriptor files with expectations, parsed and run against a chip."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from apdu_specs.documents import DocumentError
from host.cli.qa_cmds import script
from host.qa import ScriptSyntaxError
from host.qa.script import ChipSwitch, Command, Reset, parse_script, read_script, run_script

pytestmark = pytest.mark.sim

PURSE = "00A4040007F0000000020101"


def test_a_plain_scriptor_file_parses() -> None:
    text = "# pcsc-tools\nreset\n00 A4 04 00 07 F0 00 00 00 02 01 01\n\n80 5C 00 02 04\nexit\n80CA\n"
    steps = parse_script(text).steps
    assert [type(s) for s in steps] == [Reset, Command, Command]
    assert steps[1].apdu == bytes.fromhex(PURSE) and steps[1].expect is None
    assert [s.line for s in steps] == [2, 3, 5]


def test_expectations_data_and_sw_lists() -> None:
    script_ = parse_script("805C000204 -> 0000XXXX 9000  # balance\n"
                           "00B201CC20 -> (9000, 6A83)\nchip 2\n80CA9F7F00 => 9F7F .. 61XX\n")
    first, second, switch, third = script_.steps
    assert str(first.expect) == "0000XXXX 9000"
    assert [str(p) for p in second.expect.sws] == ["9000", "6A83"] and second.expect.data is None
    assert isinstance(switch, ChipSwitch) and switch.chip == 2
    assert third.expect.data.matches(bytes.fromhex("9F7F2A00")) and str(third.expect.sws[0]) == "61XX"
    assert script_.chips(1) == (1, 2) and script_.has_expectations


@pytest.mark.parametrize(("text", "message"), [
    ("00A4 04", "at least CLA INS P1 P2"),
    ("00A40400 -> 90", "no status word"),
    ("00A4040G", "not a hex digit"),
    ("chip 3", "chips 1 and 2"),
    ("80CA9F7F00 -> 9F7 9000", "odd number"),
])
def test_syntax_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ScriptSyntaxError, match=message) as error:
        parse_script("# first\n" + text, source="t.apdu")
    assert error.value.line == 2 and str(error.value).startswith("t.apdu:2:")


def test_reading_a_missing_script_is_a_document_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match=r"absent\.apdu: cannot read"):
        read_script(tmp_path / "absent.apdu")


def test_run_checks_answers_and_stops_at_the_first_mismatch(card_link) -> None:
    script_ = parse_script(f"{PURSE} -> 6F .. 9000\n805C000204 -> 00000000 9000\n"
                           "805C000404 -> 9000\n805C000104 -> 9000\n")
    result = run_script(script_, card_link.transports, chip=2)
    assert [s.ok for s in result.steps] == [True, True, False]
    assert "SW 6A86" in result.mismatches[0].problem and "expected 9000" in result.mismatches[0].problem
    assert result.checked == 3 and not result.ok


def test_keep_going_runs_everything(card_link) -> None:
    script_ = parse_script("805C000404 -> 9000\nreset\n805C000104 -> 9000\n")
    result = run_script(script_, card_link.transports, chip=2, keep_going=True)
    assert len(result.steps) == 3 and len(result.mismatches) == 2  # no purse selected after reset
    assert result.steps[1].response == card_link.chip(2).atr


def test_data_mismatch_is_reported(card_link) -> None:
    result = run_script(parse_script(f"{PURSE}\n805C000204 -> 00000001 9000\n"),
                        card_link.transports, chip=2)
    assert "data 00000000 does not match 00000001" in result.mismatches[0].problem


def test_a_chip_that_is_not_connected_is_a_clear_error(card_link) -> None:
    with pytest.raises(ValueError, match="chip 2, which is not connected"):
        run_script(parse_script("chip 2\n80CA9F7F00\n"), {1: card_link.chip(1)})


# --- the command ---------------------------------------------------------------------------

@pytest.fixture
def image(dualcard_template, tmp_path: Path) -> str:
    path = tmp_path / "card.json"
    dualcard_template.fork().save(path)
    return f"sim:{path}"


def test_the_command_exits_0_when_all_answers_match(image: str, tmp_path: Path) -> None:
    path = tmp_path / "ok.apdu"
    path.write_text(f"{PURSE} -> 6F.. 9000\n805C000104 -> 00000000 9000\n")
    result = CliRunner().invoke(script, ["run", str(path), "--reader", image, "--chip", "2"])
    assert result.exit_code == 0, result.output
    assert "ok: 2 checked answers as expected" in result.output


def test_the_command_exits_6_on_a_mismatch(image: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.apdu"
    path.write_text(f"{PURSE}\n805C000104 -> 00000001 9000\n")
    result = CliRunner().invoke(script, ["run", str(path), "--reader", image, "--chip", "2"])
    assert result.exit_code == 6
    assert "MISMATCH" in result.output and "1 of 1 checked answers differ" in result.output


def test_raw_shows_61xx_for_scripts_that_fetch_the_rest(image: str, tmp_path: Path) -> None:
    path = tmp_path / "raw.apdu"
    path.write_text(f"{PURSE} -> 61XX\n00C0000033 -> 6F.. 9000\n")
    result = CliRunner().invoke(script, ["run", str(path), "--reader", image, "--chip", "2",
                                         "--raw", "--json"])
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.output


def test_a_syntax_error_is_a_usage_error(image: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.apdu"
    path.write_text("00A4 -> 9000\n")
    result = CliRunner().invoke(script, ["run", str(path), "--reader", image])
    assert result.exit_code == 2 and "broken.apdu:1" in result.output
