"""``dualcard ledger`` as a script sees it: --json documents, one error line and the
documented exit code on bad input, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.backoffice.sample_cards import SampleCards, SampleTerminal
from host.cli.exit_codes import ExitCode
from host.cli.ledger_cmds import ledger
from tests.backoffice.backoffice_helpers import T0, TEA_TERMINAL

AT = ["--at", "2025-03-14T09:00:00+08:00"]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DUALCARD_DB", str(tmp_path / "cli.sqlite3"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(ledger, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception
        )
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def ready(cli, tmp_path: Path):
    assert cli("init", *AT)[0] == 0
    assert cli("member", "add", "merchant", "TEA", "--name", "Tea", "--terminal",
               TEA_TERMINAL, *AT)[0] == 0
    assert cli("member", "add", "consumer", "C001", "--name", "Li", "--card", "CARD0001",
               *AT)[0] == 0
    assert cli("agreement", "add", "TEA-STD", "--issuer", "TEA", "--points", "1",
               "--per-fen", "100", *AT)[0] == 0
    cards = SampleCards("cli")
    (tmp_path / "keys.json").write_text(json.dumps(cards.key_file_data(["CARD0001"])))
    terminal = SampleTerminal(TEA_TERMINAL, cards)
    terminal.load("CARD0001", 12, 1_234, T0)
    (tmp_path / "batch.json").write_text(json.dumps(terminal.close_batch("B1").as_dict()))
    return cli


def test_json_documents(ready) -> None:
    code, out, _ = ready("clear", "batch.json", "--keys", "keys.json", "--json", *AT)
    assert code == 0
    result = json.loads(out)
    assert (result["status"], result["earned"]) == ("created", {"consumption_points": 12})
    assert result["balances"]["C001:consumption_points"]["posted"] == 12
    code, out, _ = ready("member", "list", "--json")
    assert {m["id"] for m in json.loads(out)} == {"TEA", "C001", "alliance"}
    code, out, _ = ready("statement", "C001", "--json", "--to", "2025-03-15T00:00:00+08:00")
    statements = {s["account"]: s for s in json.loads(out)}
    assert statements["C001:consumption_points"]["closing"]["posted"] == 12


def test_a_rejected_batch_exits_8_with_reasons(ready, tmp_path: Path) -> None:
    data = json.loads((tmp_path / "batch.json").read_text())
    data["records"][1]["tac"] = "00000000"
    (tmp_path / "forged.json").write_text(json.dumps(data))
    code, out, err = ready("clear", "forged.json", "--keys", "keys.json", "--json", *AT)
    assert code == ExitCode.PARTIAL_BATCH
    assert json.loads(out)["rejections"] == [{"record": "r2", "reason": "bad_tac"}]
    assert err.count("\n") == 1 and err.startswith("Error: batch 'B1' rejected")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["clear", "missing.json", "--keys", "keys.json"], ExitCode.USAGE, "cannot read"),
        (["clear", "keys.json", "--keys", "keys.json"], ExitCode.USAGE, "batch format"),
        (["statement", "NOBODY:cny"], ExitCode.FAILURE, "no account"),
        (["settle", "--date", "2025-03-14", "--at", "2025-03-14T10:00:00+08:00"],
         ExitCode.USAGE, "has not ended"),
        (["convert", "--id", "X1", "--member", "C001", "--points", "500", *AT],
         ExitCode.FAILURE, "rejected"),
        (["member", "add", "consumer", "C002", "--name", "x", "--card", "CARD0001", *AT],
         ExitCode.USAGE, "already belongs"),
        (["agreement", "add", "A2", "--issuer", "C001", "--points", "1", "--per-fen", "1", *AT],
         ExitCode.USAGE, "issued by a merchant"),
    ],
)
def test_bad_input_is_one_line_and_an_exit_code(ready, args, code, message) -> None:
    exit_code, _, err = ready(*args)
    assert exit_code == code
    assert err.count("\n") == 1 and message in err


def test_usage_errors_and_missing_ledger(cli) -> None:
    code, _, err = cli("statement", "C001")
    assert code == ExitCode.FAILURE and "run `dualcard ledger init`" in err
    code, _, err = cli("init", "--at", "2025-03-14T09:00:00")
    assert code == ExitCode.USAGE and "UTC offset" in err
    code, _, err = cli("member", "list", "--db", "mysql://x/y")
    assert code == ExitCode.FAILURE and "unsupported database" in err
