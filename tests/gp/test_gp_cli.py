"""`dualcard gp …` and `dualcard card info` against a card image, through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.card_cmds import card
from host.cli.gp_cmds import gp
from simulator.blank import new_blank_card

from .perso_applet import PERSO_AID, PERSO_LOAD_FILE, PERSO_MODULE

NEW_KEY = "000102030405060708090A0B0C0D0E0F"


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "card.json"
    new_blank_card("cli").save(path)
    return f"sim:{path}"


def run(group, *args: str, env: dict[str, str] | None = None, input: str | None = None):
    return CliRunner().invoke(group, list(args), env={"DUALCARD_READER": "", **(env or {})},
                              input=input)


def test_gp_cli_list_json(image: str) -> None:
    result = run(gp, "list", "--reader", image, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["isd"][0]["aid"] == "A000000151000000" and data["isd"][0]["state"] == "OP_READY"
    assert data["applications"] == []
    assert any(f["aid"] == "F044435344" for f in data["load_files"])


def test_gp_cli_install_lock_unlock_delete(image: str) -> None:
    path = Path(image[4:])
    before = path.read_text()
    assert run(gp, "list", "-r", image).exit_code == 0
    assert path.read_text() == before  # reading commands do not write the image back
    result = run(gp, "install", PERSO_LOAD_FILE.hex(), PERSO_MODULE.hex(), PERSO_AID.hex(),
                 "--params", "0102", "-r", image)
    assert result.exit_code == 0, result.output
    assert "installed F0000000EE0101 (SELECTABLE)" in result.output
    assert path.read_text() != before  # state-changing: saved
    assert run(gp, "lock", PERSO_AID.hex(), "-r", image).exit_code == 0
    listing = run(gp, "list", "-r", image).output
    assert "APP: F0000000EE0101 LOCKED" in listing
    assert run(gp, "unlock", PERSO_AID.hex(), "-r", image).exit_code == 0
    assert "F0000000EE0101 SELECTABLE" in run(gp, "list", "-r", image).output
    assert run(gp, "delete", PERSO_AID.hex(), "-r", image).exit_code == 0
    result = run(gp, "delete", PERSO_AID.hex(), "-r", image)
    assert result.exit_code == 6 and "6A88" in result.output


def test_gp_cli_card_life_cycle(image: str) -> None:
    assert "OP_READY" in run(gp, "status", "-r", image).output
    assert "SECURED" in run(gp, "status", "secured", "-r", image).output
    assert run(gp, "lock", "-r", image).exit_code == 0
    assert "CARD_LOCKED" in run(gp, "status", "-r", image).output
    result = run(gp, "install", PERSO_LOAD_FILE.hex(), PERSO_MODULE.hex(), "-r", image)
    assert result.exit_code == 6 and "6985" in result.output
    assert run(gp, "unlock", "-r", image).exit_code == 0
    assert run(gp, "status", "terminated", "-r", image, input="n\n").exit_code == 1  # aborted
    assert "SECURED" in run(gp, "status", "-r", image).output
    assert "TERMINATED" in run(gp, "status", "terminated", "--yes", "-r", image).output
    info = json.loads(run(card, "info", "-r", image, "--chip", "1", "--json").output)
    assert info["life_cycle"] == "TERMINATED" and info["cplc"] is not None


def test_gp_cli_put_key_then_authenticate_with_the_new_keys(image: str) -> None:
    env = {"NEW_ISD_KEY": NEW_KEY}
    result = run(gp, "put-key", "--new-keys", "env:NEW_ISD_KEY", "--new-kvn", "30", "-r", image,
                 env=env)
    assert result.exit_code == 0, result.output
    assert "key set 30 stored" in result.output and NEW_KEY not in result.output
    result = run(gp, "list", "-r", image)
    assert result.exit_code == 5 and "card cryptogram does not match" in result.output
    result = run(gp, "list", "-r", image, "--key", "env:NEW_ISD_KEY", env=env)
    assert result.exit_code == 0, result.output


def test_gp_cli_card_info(image: str) -> None:
    result = run(card, "info", "-r", image, "--chip", "2")
    assert result.exit_code == 0, result.output
    assert "life cycle  OP_READY" in result.output
    assert "key set FF" in result.output and "KCV enc=504A77" in result.output
    assert "4041424344" not in result.output
    public = json.loads(run(card, "info", "-r", image, "--chip", "1", "--no-auth", "--json").output)
    assert public["life_cycle"] is None and public["scp"] == "03" and public["i"] == "70"
    assert public["keys"][0] == {"kvn": "FF", "id": 1, "type": "88", "length": 16}


def test_gp_cli_trace_redacts_put_key(image: str) -> None:
    result = run(gp, "put-key", "--new-keys", "env:K", "--new-kvn", "31", "-r", image, "--trace",
                 env={"K": NEW_KEY})
    assert result.exit_code == 0, result.output
    assert ">> 8050" in result.output  # the trace (stderr; click's output mixes both)
    put_key = next(li for li in result.output.splitlines() if ">> 84D8" in li)
    assert "*" * 16 in put_key


@pytest.mark.parametrize(("args", "code", "text"), [
    (("list",), 3, "no reader"),
    (("list", "-r", "sim:/nonexistent/card.json"), 2, "card.json: cannot read"),
    (("list", "--key", "404142434445464748494A4B4C4D4E4F"), 2, "not accepted"),
    (("list", "--key", "env:NOPE"), 2, "not set"),
    (("list", "--kvn", "30"), 5, "no key set 30"),
    (("list", "--level", "07"), 2, "use none"),
    (("install", "F0", "F0"), 6, "6A80"),
])
def test_gp_cli_errors_are_one_line_with_their_exit_code(image: str, args, code, text) -> None:
    if "-r" not in args and args != ("list",):
        args = (*args, "-r", image)
    result = run(gp, *args)
    assert result.exit_code == code, result.output
    assert text in result.output
    assert "Traceback" not in result.output


def test_gp_cli_help_marks_state_changing_commands() -> None:
    text = run(gp, "--help").output
    for name in ("install", "delete", "lock", "unlock", "put-key"):
        line = next(li for li in text.splitlines() if li.strip().startswith(name))
        assert "[!]" in line, line
    assert "[!]" not in next(li for li in text.splitlines() if li.strip().startswith("list "))
    assert "5 authentication failure" in text
