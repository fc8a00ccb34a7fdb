"""`dualcard points …` against a card image, through click's runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from apdu_specs.commands.purse_data import Purse
from host.cli.points_cmds import points
from host.points import PurseProfile
from host.points.keyfile import issuer_keys_to_dict

from .purse_helpers import IDENTITY, issuer_keys, make_card


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "card.json"
    make_card(profiles={p: PurseProfile(pin_for_purchase=p is Purse.CREDIT) for p in Purse},
              pin="1234").save(path)
    return path


@pytest.fixture
def keyfile(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(issuer_keys_to_dict(issuer_keys())), encoding="utf-8")
    return path


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(points, list(args), input=input, env=env)


def test_balance(image):
    result = run("balance", "--reader", f"sim:{image}")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"card {IDENTITY}", "consumption  0", "bank         0",
                                          "credit       0"]
    data = json.loads(run("balance", "--reader", f"sim:{image}", "--json").output)
    assert data == {"card": IDENTITY, "balances": {"consumption": 0, "bank": 0, "credit": 0}}


def test_load_spend_and_log(image, keyfile):
    reader = f"sim:{image}"
    loaded = run("load", "-r", reader, "--purse", "bank", "--amount", "250", "--keys", str(keyfile),
                 "--json")
    assert loaded.exit_code == 0, loaded.output
    record = json.loads(loaded.output)
    assert (record["type"], record["purse"], record["balance_after"]) == ("load", "bank", 250)
    spent = run("spend", "-r", reader, "--purse", "bank", "--amount", "100", "--terminal-seq", "9",
                "--json", env={"DUALCARD_POINTS_KEYS": str(keyfile)})
    assert spent.exit_code == 0, spent.output
    assert json.loads(spent.output)["terminal_seq"] == 9
    balances = json.loads(run("balance", "-r", reader, "--json").output)["balances"]
    assert balances == {"consumption": 0, "bank": 150, "credit": 0}
    log = json.loads(run("log", "-r", reader, "--purse", "bank", "--json").output)
    assert [(e["type"], e["amount"]) for e in log] == [("purchase", 100), ("load", 250)]
    human = run("log", "-r", reader)
    assert human.exit_code == 0 and "TAC" in human.output and len(human.output.splitlines()) == 2


def test_spend_with_the_holders_pin(image, keyfile):
    reader, keys = f"sim:{image}", ("--keys", str(keyfile))
    assert run("load", "-r", reader, "--purse", "credit", "--amount", "10", *keys).exit_code == 0
    refused = run("spend", "-r", reader, "--purse", "credit", "--amount", "5", *keys)
    assert refused.exit_code == 6 and "6982" in refused.output
    ok = run("spend", "-r", reader, "--purse", "credit", "--amount", "5", "--ask-pin", *keys,
             input="1234\n")
    assert ok.exit_code == 0, ok.output
    wrong = run("spend", "-r", reader, "--purse", "credit", "--amount", "5", "--ask-pin", *keys,
                input="9999\n")
    assert wrong.exit_code == 5 and "wrong PIN, 2 tries left" in wrong.output


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_errors_are_one_line_and_non_zero(image, keyfile, tmp_path):
    reader = f"sim:{image}"
    too_much = run("spend", "-r", reader, "--purse", "bank", "--amount", "1",
                   "--keys", str(keyfile))
    assert too_much.exit_code == 6 and "9401" in _error_line(too_much)

    other = tmp_path / "other.json"
    data = issuer_keys_to_dict(issuer_keys())
    data["load_master"] = "00" * 16
    other.write_text(json.dumps(data), encoding="utf-8")
    forged = run("load", "-r", reader, "--purse", "bank", "--amount", "1", "--keys", str(other))
    assert forged.exit_code == 5 and "MAC1" in _error_line(forged)

    missing = run("load", "-r", reader, "--purse", "bank", "--amount", "1", "--keys",
                  str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "nope.json: cannot read" in _error_line(missing)

    bad_terminal = run("load", "-r", reader, "--purse", "bank", "--amount", "1", "--keys",
                       str(keyfile), "--terminal-id", "0102")
    assert bad_terminal.exit_code == 2 and "6 bytes" in _error_line(bad_terminal)

    no_card = run("balance", "-r", f"sim:{tmp_path / 'absent.json'}")
    assert no_card.exit_code != 0
    _error_line(no_card)
