"""docs/backoffice.md is real: its files are written, its ``dualcard ledger`` commands run in
order, and their output must equal what the page prints (on SQLite; on PostgreSQL the same
commands must succeed)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.ledger_cmds import ledger

DOC = Path(__file__).resolve().parents[2] / "docs" / "backoffice.md"
_FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PREFIX = "dualcard ledger "


@dataclass
class Step:
    command: str
    expected: str


def walkthrough(text: str) -> tuple[dict[str, str], list[Step]]:
    """The files (``json file=NAME`` blocks) and the console steps of the page, in order."""
    files: dict[str, str] = {}
    steps: list[Step] = []
    for lang, info, body in _FENCE.findall(text):
        match = re.search(r"file=(\S+)", info)
        if lang == "json" and match:
            files[match.group(1)] = body
        elif lang == "console":
            for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
                command, _, output = chunk.partition("\n")
                steps.append(Step(command, output.rstrip("\n")))
    return files, steps


def run_step(runner: CliRunner, step: Step) -> tuple[int, str]:
    assert step.command.startswith(_PREFIX), step.command
    result = runner.invoke(ledger, shlex.split(step.command[len(_PREFIX):]),
                           catch_exceptions=False)
    return result.exit_code, result.output.rstrip("\n")


def _play(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str | None) -> list[tuple]:
    files, steps = walkthrough(DOC.read_text(encoding="utf-8"))
    assert files and steps
    monkeypatch.chdir(tmp_path)
    if db is not None:
        monkeypatch.setenv("DUALCARD_DB", db)
    else:
        monkeypatch.delenv("DUALCARD_DB", raising=False)
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    runner = CliRunner()
    return [(step, *run_step(runner, step)) for step in steps]


def test_the_walkthrough_runs_as_printed_on_sqlite(tmp_path, monkeypatch) -> None:
    for step, code, output in _play(tmp_path, monkeypatch, None):
        assert code == 0, (step.command, output)
        assert output == step.expected, step.command


@pytest.mark.postgres
def test_the_walkthrough_runs_on_postgresql(tmp_path, monkeypatch, pg_url: str) -> None:
    for step, code, output in _play(tmp_path, monkeypatch, pg_url):
        assert code == 0, (step.command, output)
        if "init" not in step.command:  # init prints the database URL
            assert output == step.expected, step.command
