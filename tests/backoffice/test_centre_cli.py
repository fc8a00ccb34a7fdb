"""``dualcard settle`` as a script sees it: --json documents, one error line and a non-zero
exit code on every refusal and bad input, never a traceback; nothing posted by a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.exit_codes import ExitCode
from host.cli.ledger_cmds import ledger
from host.cli.settle_cmds import settle

AT = ["--at", "2030-03-01T09:00:00+08:00"]
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.setenv("DUALCARD_DB", str(tmp_path / "cli.sqlite3"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(group: str, *args: str) -> tuple[int, str, str]:
        result = runner.invoke(ledger if group == "ledger" else settle, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
        return result.exit_code, result.stdout, result.stderr

    assert run("ledger", "init", *AT)[0] == 0
    assert run("ledger", "member", "add", "consumer", "C001", "--name", "Li", "--card",
               "CARD0001", *AT)[0] == 0
    assert run("ledger", "member", "add", "merchant", "SHOP", "--name", "Shop", *AT)[0] == 0
    assert run("settle", "bank", "deposit", "BK1", "--amount", "1000000", *AT)[0] == 0
    assert run("settle", "account", "open", "C001", "--bank-account", "BK1", "--address", "A 1",
               "--cap", "500000", "--threshold", "100000", "--credit-limit", "500000",
               *AT)[0] == 0
    return run


def test_an_order_held_and_released_by_code_in_json(cli: Run) -> None:
    code, out, _ = cli("settle", "order", "place", "O1", "--holder", "C001", "--merchant",
                       "SHOP", "--amount", "450000", "--address", "A 1", "--condition", "code",
                       "--json", *AT)
    placed = json.loads(out)
    assert code == 0 and placed["state"] == "held" and len(placed["code"]) == 6
    code, out, _ = cli("settle", "release", "O1", "--id", "d1", "--code", placed["code"],
                       "--json", *AT)
    released = json.loads(out)
    assert code == 0 and (released["moved"], released["repaid"]) == (450_000, 450_000)
    shown = json.loads(cli("settle", "account", "show", "C001", "--json")[1])
    assert shown["settlement"]["posted"] == 500_000
    assert [t["state"] for t in json.loads(cli("settle", "topup", "list", "C001",
                                               "--json")[1])] == ["completed", "completed"]


@pytest.mark.parametrize(("args", "exit_code", "says"), [
    (["order", "place", "O9", "--holder", "C001", "--merchant", "SHOP", "--amount", "100",
      "--address", "elsewhere", "--condition", "acceptance"], ExitCode.FAILURE, "not on file"),
    (["order", "place", "O9", "--holder", "C001", "--merchant", "SHOP", "--amount", "0",
      "--address", "A 1", "--condition", "acceptance"], ExitCode.USAGE, "order amount"),
    (["order", "place", "O9", "--holder", "C001", "--merchant", "NOBODY", "--amount", "100",
      "--address", "A 1", "--condition", "acceptance"], ExitCode.FAILURE, "no merchant"),
    (["release", "O404", "--id", "r", "--accept"], ExitCode.FAILURE, "no order 'O404'"),
    (["release", "O404", "--id", "r"], ExitCode.USAGE, "one of --code or --accept"),
    (["account", "transfer", "C001", "--from", "settlement", "--to", "virtual", "--amount",
      "-5", "--id", "t"], ExitCode.USAGE, "transfer amount"),
    (["topup", "bank", "C001"], ExitCode.FAILURE, "at its cap"),
    (["topup", "voucher", "C001", "--code", "NOPE"], ExitCode.FAILURE, "no such voucher"),
    (["bill", "pay", "C001", "--biller", "NOBODY", "--number", "1"], ExitCode.FAILURE,
     "no biller"),
    (["account", "show", "NOBODY"], ExitCode.FAILURE, "NOBODY"),
])
def test_every_refusal_is_one_line_and_a_non_zero_exit(
        cli: Run, args: list[str], exit_code: ExitCode, says: str) -> None:
    code, out, err = cli("settle", *args, "--json")
    assert code == exit_code, (out, err)
    if exit_code is ExitCode.FAILURE:
        assert says in json.loads(out)["error"]
    last = err.strip().splitlines()[-1]  # click's own usage errors show the usage first
    assert last.startswith("Error: ") and says in last and "Traceback" not in err


def test_a_payroll_file_with_a_bad_line_names_it_and_posts_nothing(
        cli: Run, tmp_path: Path) -> None:
    assert cli("settle", "payroll", "employee", "SHOP", "E1", "--holder", "C001")[0] == 0
    (tmp_path / "bad.csv").write_text("employee,amount\nE1,100\nE2,200\n")
    code, _, err = cli("settle", "payroll", "run", "P1", "bad.csv", "--employer", "SHOP")
    assert code == ExitCode.FAILURE and "line 3" in err and "E2" in err
    (tmp_path / "good.csv").write_text("employee,amount\nE1,100\n")
    code, out, _ = cli("settle", "payroll", "run", "P1", "good.csv", "--employer", "SHOP",
                       "--json")
    assert code == 0 and json.loads(out)["total"] == 100
