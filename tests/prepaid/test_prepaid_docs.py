"""docs/prepaid.md is real: its commands run in order and print what the page prints (on
SQLite; on PostgreSQL the same, but for the database URL ``init`` names), errors where the
page shows one."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.main import cli
from tests.backoffice.test_backoffice_docs import Step, walkthrough

DOC = Path(__file__).resolve().parents[2] / "docs" / "prepaid.md"


def _play(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str | None
          ) -> list[tuple[Step, int, str]]:
    _, steps = walkthrough(DOC.read_text(encoding="utf-8"))
    assert len(steps) > 15
    monkeypatch.chdir(tmp_path)
    if db is None:
        monkeypatch.delenv("DUALCARD_DB", raising=False)
    else:
        monkeypatch.setenv("DUALCARD_DB", db)
    runner = CliRunner()
    played = []
    for step in steps:
        assert step.command.startswith("dualcard "), step.command
        result = runner.invoke(cli, shlex.split(step.command)[1:], catch_exceptions=False)
        played.append((step, result.exit_code, result.output.rstrip("\n")))
    return played


def _check(played: list[tuple[Step, int, str]], *, skip_init: bool) -> None:
    for step, code, output in played:
        assert (code != 0) == step.expected.startswith("Error:"), (step.command, output)
        if not (skip_init and " init " in step.command):
            assert output == step.expected, step.command


def test_the_walkthrough_runs_as_printed_on_sqlite(tmp_path: Path, monkeypatch) -> None:
    _check(_play(tmp_path, monkeypatch, None), skip_init=False)


@pytest.mark.postgres
def test_the_walkthrough_runs_on_postgresql(tmp_path: Path, monkeypatch, pg_url: str) -> None:
    _check(_play(tmp_path, monkeypatch, pg_url), skip_init=True)
