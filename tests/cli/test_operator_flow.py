"""An operator's day from the CLI alone: keys, a batch of cards, then a look at one card."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "perso"


def test_keys_batch_and_card_info_with_the_issuer_key_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLES / "profile.toml", "profile.toml")
    shutil.copy(EXAMPLES / "holders.csv", "holders.csv")
    run = CliRunner().invoke
    assert run(cli, ["perso", "keys", "new", "--suite", "AES", "--out", "keys.json",
                     "--plaintext"]).exit_code == 0
    result = run(cli, ["perso", "batch", "--profile", "profile.toml", "--keys", "keys.json",
                       "--input", "holders.csv", "--out-dir", "cards", "--json"])
    assert result.exit_code == 0, result.output
    image = sorted(Path("cards").glob("*.json"))[0]
    # the test keys are gone: the default key spec is refused with the authentication code
    refused = run(cli, ["card", "info", "--reader", f"sim:{image}", "--chip", "1"])
    assert refused.exit_code == 5, refused.output
    result = run(cli, ["card", "info", "--reader", f"sim:{image}", "--json",
                       "--key", "kdf3:file:keys.json#isd"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["chip1"]["life_cycle"] == "SECURED" == report["chip2"]["life_cycle"]
    assert report["chip1"]["payment_applications"][0]["pan"].count("*") >= 6
    assert "consumption" in report["chip2"]["purses"]["balances"]


def test_without_pcscd_there_is_no_reader_exit_3(tmp_path):
    """docs/operators.md §3 without pcscd: the documented code for "no reader", not 1.

    A process of its own: pcsc-lite reads where pcscd listens once per process."""
    pytest.importorskip("smartcard")
    env = {**os.environ, "PCSCLITE_CSOCK_NAME": str(tmp_path / "no-pcscd.comm"),
           "PYTHONPATH": os.pathsep.join(sys.path)}

    def dualcard(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "host.cli.main", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120, check=False)

    assert dualcard("perso", "keys", "new", "--suite", "AES", "--out", "keys.json",
                    "--plaintext").returncode == 0
    result = dualcard("perso", "run", "--reader", "pcsc:Virtual PCD", "--profile",
                      str(EXAMPLES / "profile.toml"), "--keys", "keys.json", "--holder",
                      '{"name": "DOE/JANE", "holder_id": "X-1", "pan": "6222030000000071", '
                      '"card_id": "8860000000000077"}')
    assert result.returncode == 3, result.stderr
    assert "is pcscd running?" in result.stderr
    waited = dualcard("readers", "--wait", "pcsc:Virtual PCD", "--timeout", "0.3")
    assert waited.returncode == 3, waited.stderr


def _batch_in_a_terminal(tmp_path: Path, *args: str, stop_at: int | None = None
                         ) -> tuple[int, str]:
    """``dualcard perso batch`` on a pseudo-terminal (the progress bar shows only on one),
    interrupted with Ctrl-C once its bar shows ``stop_at`` % if given: its exit code and
    output."""
    import pty
    import select
    import signal

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI itself
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "host.cli.main", "perso", "batch",
                                  "--profile", "profile.toml", "--keys", "keys.json", *args])
    output, interrupted = b"", False
    while True:
        if stop_at is not None and not interrupted and any(
                p >= stop_at for p in _percentages(output.decode(errors="replace"))):
            os.kill(pid, signal.SIGINT)
            interrupted = True
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def _percentages(output: str) -> list[int]:
    import re

    return [int(p) for p in re.findall(r"(\d+)%", output)]


def _operator_dir(tmp_path: Path, rows: int) -> None:
    shutil.copy(EXAMPLES / "profile.toml", tmp_path / "profile.toml")
    lines = ["name,holder_id,pan,expiry,card_id"]
    lines += [f"HOLDER/N{i},R-{i:05d},,," for i in range(rows)]
    (tmp_path / "holders.csv").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["perso", "keys", "new", "--suite", "AES", "--out",
                                      str(tmp_path / "keys.json"), "--plaintext"])
    assert result.exit_code == 0, result.output


def test_a_resumed_batch_shows_its_progress_over_the_whole_batch(tmp_path: Path) -> None:
    """The bar of a resumed batch starts at the rows done before and ends at 100 %."""
    _operator_dir(tmp_path, 400)
    args = ("--input", "holders.csv", "--out-dir", "cards")
    code, first = _batch_in_a_terminal(tmp_path, *args, stop_at=20)
    done = sum('"type":"card"' in line
               for line in (tmp_path / "cards" / "audit.jsonl").read_text().splitlines())
    assert code == 130 and 0 < done < 400, (code, done, first[-300:])
    code, second = _batch_in_a_terminal(tmp_path, *args)
    assert code == 0, second[-300:]
    shown = _percentages(second)
    assert "personalising" in second
    assert shown[0] == done * 100 // 400 and shown[-1] == 100


def test_a_dry_run_says_planning_and_counts_what_the_run_sends(tmp_path: Path) -> None:
    _operator_dir(tmp_path, 3)
    args = ("--input", "holders.csv", "--out-dir", "cards")
    code, plan = _batch_in_a_terminal(tmp_path, *args, "--dry-run")
    assert code == 0 and "planning" in plan and "personalising" not in plan
    planned = {int(n) for n in __import__("re").findall(r"(\d+) APDUs", plan)}
    code, _ = _batch_in_a_terminal(tmp_path, *args)
    assert code == 0
    sent = {json.loads(line)["apdus"]
            for line in (tmp_path / "cards" / "audit.jsonl").read_text().splitlines()
            if '"type":"card"' in line}
    assert planned == sent and len(sent) == 1


def test_a_batch_whose_cards_were_issued_elsewhere_is_refused_before_any_card(
        tmp_path: Path) -> None:
    """The same holders again into another directory: their numbers are on issued cards
    the new journal does not know, so no blank card may take them (exit 2, no image)."""
    _operator_dir(tmp_path, 3)
    run = CliRunner().invoke
    common = ["perso", "batch", "--profile", str(tmp_path / "profile.toml"), "--keys",
              str(tmp_path / "keys.json"), "--input", str(tmp_path / "holders.csv")]
    assert run(cli, [*common, "--out-dir", str(tmp_path / "a")]).exit_code == 0
    again = run(cli, [*common, "--out-dir", str(tmp_path / "b")])
    assert again.exit_code == 2, again.output
    assert "3 rows from row 1 already have issued cards" in again.output
    assert list((tmp_path / "b").glob("*.json")) == []
