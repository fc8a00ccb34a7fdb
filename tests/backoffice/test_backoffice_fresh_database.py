"""A back office opened where no ledger was made: one clear error naming the database and the
command that makes it, and the CLI leaves no empty database file behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.backoffice import BackOffice
from host.backoffice.errors import ConfigurationError
from host.cli.exit_codes import ExitCode
from host.cli.main import cli

from .backoffice_helpers import T0


def test_the_library_names_the_url_and_the_init_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    office = BackOffice(url)
    try:
        with pytest.raises(ConfigurationError) as raised:
            office.members()
        assert str(raised.value) == f"no ledger in {url}: run `dualcard ledger init` first"
        office.init(at=T0)  # the same object can then make the ledger
        assert [m.id for m in office.members()] == ["alliance"]
    finally:
        office.close()


@pytest.mark.parametrize("as_json", [False, True])
def test_the_cli_refuses_without_creating_the_file(tmp_path: Path, as_json: bool) -> None:
    db = tmp_path / "dualcard.sqlite3"
    result = CliRunner().invoke(cli, ["ledger", "member", "list", "--db", str(db),
                                      *(["--json"] if as_json else [])])
    message = f"no ledger in sqlite:///{db}: run `dualcard ledger init` first"
    assert result.exit_code == ExitCode.FAILURE
    assert result.stderr.splitlines() == [f"Error: {message}"]
    assert (json.loads(result.stdout) if as_json else result.stdout) == (
        {"error": message} if as_json else "")
    assert not db.exists()
