"""`dualcard pos …` against a simulated card image and a ledger file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.pos_cmds import pos

from .conftest import terminal_files


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, str]:
    return terminal_files(tmp_path)


def _run(*args: str, stdin: str | None = None):
    return CliRunner().invoke(pos, list(args), input=stdin, catch_exceptions=False)


def test_a_sale_its_journal_and_its_slip(setup: dict[str, str], tmp_path: Path) -> None:
    sale = _run("purchase", "--config", setup["config"], "--reader", setup["reader"],
                "--amount", "12.34", "--method", "credit", stdin="1234\n")
    assert sale.exit_code == 0, sale.output
    assert "APPROVED 000001 CNY 12.34 DUALCARD CREDIT 620000******0013" in sale.output
    assert "+12 consumption, +12 credit" in sale.output

    spend = _run("spend", "--config", setup["config"], "--reader", setup["reader"],
                 "--points", "5", "--json")
    assert spend.exit_code == 0 and json.loads(spend.output)["status"] == "approved"

    listing = _run("journal", "--config", setup["config"])
    assert "000001" in listing.output and "000002" in listing.output

    slip = _run("slip", "--config", setup["config"], "000001")
    assert "AMOUNT      CNY 12.34" in slip.output
    (tmp_path / "slip.txt").write_text(slip.output)
    parsed = _run("slip", "--parse", str(tmp_path / "slip.txt"), "--json")
    fields = json.loads(parsed.output)
    assert fields["amount"] == 1234 and fields["result"] == "APPROVED"
    assert fields["points"][0] == {"purse": "CONSUMPTION", "points": 12, "balance_after": 12}


def test_a_wrong_pin_is_a_decline_not_a_crash(setup: dict[str, str]) -> None:
    result = _run("purchase", "--config", setup["config"], "--reader", setup["reader"],
                  "--amount", "1.00", stdin="0000\n")
    assert result.exit_code == 0 and "DECLINED" in result.output
    assert "wrong PIN, 2 tries left" in result.output


def test_reconcile_with_nothing_open(setup: dict[str, str]) -> None:
    result = _run("reconcile", "--config", setup["config"], "--reader", setup["reader"])
    assert result.exit_code == 0 and "nothing to reconcile" in result.output


def test_bad_configuration_is_one_line(tmp_path: Path) -> None:
    missing = _run("journal", "--config", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "nope.json: cannot read" in missing.output
    (tmp_path / "bad.json").write_text('{"format": "dualcard-pos-terminal/1"}')
    bad = _run("journal", "--config", str(tmp_path / "bad.json"))
    assert bad.exit_code == 1 and "lacks merchant_id" in bad.output
    usage = _run("slip")
    assert usage.exit_code == 2


@pytest.mark.parametrize("key_file", ["issuer.json", "points-keys.json", "card-keys.json"])
def test_the_configuration_is_checked_before_the_pin_is_asked(setup: dict[str, str],
                                                              key_file: str) -> None:
    (Path(setup["dir"]) / key_file).unlink()
    result = _run("purchase", "--config", setup["config"], "--reader", setup["reader"],
                  "--amount", "1.00")
    assert result.exit_code != 0 and key_file in result.output
    assert "PIN" not in result.output


def test_setup_writes_a_terminal_the_commands_take(tmp_path: Path) -> None:
    written = _run("setup", "--dir", str(tmp_path))
    assert written.exit_code == 0, written.output
    sale = _run("purchase", "--config", str(tmp_path / "terminal.json"), "--reader",
                f"sim:{tmp_path / 'card.json'}", "--amount", "2.00", stdin="1234\n")
    assert sale.exit_code == 0 and "APPROVED 000001" in sale.output, sale.output
    again = _run("setup", "--dir", str(tmp_path))
    assert again.exit_code == 2 and "--force" in again.output
    assert _run("setup", "--dir", str(tmp_path), "--force").exit_code == 0
    assert "the journal is empty" in _run("journal", "--config",
                                          str(tmp_path / "terminal.json")).output


def test_batches_list_when_empty(setup: dict[str, str]) -> None:
    assert "no batches" in _run("batch", "list", "--config", setup["config"]).output
    assert "nothing to upload" in _run("batch", "upload", "--config", setup["config"]).output


def test_batch_upload_is_safe_to_repeat(setup: dict[str, str]) -> None:
    _run("purchase", "--config", setup["config"], "--reader", setup["reader"],
         "--amount", "50.00", stdin="1234\n")
    first = _run("batch", "upload", "--config", setup["config"], "--json")
    assert json.loads(first.output)[0]["status"] == "created"
    assert "nothing to upload" in _run("batch", "upload", "--config", setup["config"]).output
