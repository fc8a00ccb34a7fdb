"""`dualcard stripe …` commands, driven through click's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from apdu_specs.magstripe import Track2
from host.cli.stripe_cmds import stripe

pytestmark = pytest.mark.unit

VISA = ["--pan", "4123456789012345", "--expiry", "8701", "--service-code", "101"]
GOOD = ["--pan", "4111111111111111", "--expiry", "2512", "--service-code", "201"]


def run(*args: str) -> Result:
    return CliRunner().invoke(stripe, list(args))


def assert_one_line_error(result: Result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error:")
    return lines[-1]


def test_encode_both_tracks_as_text() -> None:
    result = run("encode", *GOOD, "--name", "DOE/JOHN", "--discretionary", "123")
    assert result.exit_code == 0, result.output
    assert "track 1  %B4111111111111111^DOE/JOHN^2512201123?" in result.output
    assert "track 2  ;4111111111111111=2512201123?" in result.output
    assert "chip present" in result.output


def test_encode_json_test_card_with_luhn_opt_out() -> None:
    result = run("encode", *VISA, "--discretionary", "0000561", "--no-luhn", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert list(data) == ["track2"]
    assert data["track2"]["data"] == ";4123456789012345=87011010000561?"
    assert data["track2"]["lrc"] == "1"  # worked by hand in test_magstripe_tracks
    assert data["track2"]["service_code"]["chip_present"] is False


def test_encode_errors_are_one_line() -> None:
    line = assert_one_line_error(run("encode", *VISA))
    assert "Luhn" in line and "--no-luhn" in line and "4123456789012345" not in line
    assert "26" in assert_one_line_error(run("encode", *GOOD, "--name", "N" * 27))
    assert "month" in assert_one_line_error(run("encode", "--pan", "4111111111111111",
                                                "--expiry", "2513"))
    assert_one_line_error(run("encode"))


def test_decode_a_track_string_with_and_without_lrc() -> None:
    text = Track2("4111111111111111", "2512", "201").encode_with_lrc()
    for given in (text, text[:-1], f"  {text}\n"):
        result = run("decode", given, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["pan"] == "4111111111111111"
    assert "LRC" in assert_one_line_error(run("decode", text[:-1] + "0"))


def test_decode_wedge_output() -> None:
    result = run("decode", "--wedge",
                 "%B4111111111111111^DOE/JOHN^2512201?;4111111111111111=2512201?+E?")
    assert result.exit_code == 0, result.output
    assert "name           DOE/JOHN" in result.output
    assert "track 3  unreadable" in result.output


def test_decode_needs_exactly_one_source() -> None:
    assert_one_line_error(run("decode"))
    assert_one_line_error(run("decode", ";4111111111111111===?", "--wedge", "x"))


@pytest.mark.parametrize("reverse", [False, True])
def test_wave_then_decode_the_wav(tmp_path: Path, reverse: bool) -> None:
    wav, png = tmp_path / "swipe.wav", tmp_path / "swipe.png"
    args = ["wave", *GOOD, "--out", str(wav), "--png", str(png), "--png-window", "0:80",
            "--rate", "24000", "--noise", "0.05", "--jitter", "0.02", "--drift", "0.3", "--json"]
    if reverse:
        args.append("--reverse")
    result = run(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["track"] == 2 and summary["sample_rate"] == 24000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    decoded = run("decode", "--wav", str(wav), "--json")
    assert decoded.exit_code == 0, decoded.output
    data = json.loads(decoded.output)
    assert data["data"] == ";4111111111111111=2512201?"
    assert data["direction"] == ("reversed" if reverse else "forward")


def test_wave_track1_and_from_a_track_string(tmp_path: Path) -> None:
    wav = tmp_path / "t1.wav"
    result = run("wave", "--track", "1", *GOOD, "--name", "DOE/JOHN", "--out", str(wav))
    assert result.exit_code == 0, result.output
    assert "track 1" in result.output
    assert "DOE/JOHN" in run("decode", "--wav", str(wav)).output

    from_string = run("wave", "--data", "%B4111111111111111^DOE/JOHN^2512201?",
                      "--out", str(wav))
    assert from_string.exit_code == 0, from_string.output


def test_wave_usage_errors(tmp_path: Path) -> None:
    out = str(tmp_path / "x.wav")
    assert_one_line_error(run("wave", "--track", "1", *GOOD, "--out", out))
    assert_one_line_error(run("wave", "--data", ";4111111111111111===?", *GOOD, "--out", out))
    assert_one_line_error(run("wave", "--track", "1", "--data", ";4111111111111111===?",
                              "--out", out))
    assert "samples per bit" in assert_one_line_error(run("wave", *GOOD, "--rate", "2000",
                                                          "--out", out))
    assert_one_line_error(run("wave", *GOOD, "--speed", "-1", "--out", out))
    assert_one_line_error(run("wave", *GOOD, "--out", out, "--png", str(tmp_path / "p.png"),
                              "--png-window", "abc"))
    assert_one_line_error(run("wave", *GOOD, "--out", out, "--png", str(tmp_path / "p.png"),
                              "--png-window", "5000:6000"))


def test_decode_a_damaged_or_foreign_wav(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....WAVEfmt nothing useful")
    assert "WAV" in assert_one_line_error(run("decode", "--wav", str(junk)))
    silent = tmp_path / "silent.wav"
    from apdu_specs.magstripe.wav import wav_bytes

    silent.write_bytes(wav_bytes([0] * 4000, 8000))
    assert "swipe" in assert_one_line_error(run("decode", "--wav", str(silent)))
