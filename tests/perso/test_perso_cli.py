"""`dualcard perso …` through click: keys, batches and single cards, exit codes, no secrets out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from apdu_specs.crypto.ciphers import Algorithm, xor
from apdu_specs.crypto.kcv import kcv
from host.cli.perso_cmds import perso
from host.keystore import KeyFile
from host.perso import CardNumbers, PINMailer, load_profile, read_holders_text, resolve_card
from host.perso.profile import PANRange
from host.points.client import PointsClient
from host.transport.sim import blank_card, open_image, sim_transports
from host.transport.t0 import T0Transport

from .perso_helpers import PROFILE, TODAY

pytestmark = pytest.mark.sim

HEADER = "name,holder_id,pan,expiry,card_id\n"


def _run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    return CliRunner().invoke(perso, list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture
def keyfile(tmp_path: Path) -> Path:
    path = tmp_path / "keys.json"
    assert _run("keys", "new", "--out", str(path), "--plaintext").exit_code == 0
    return path


def _holders(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "holders.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_keys_new_and_list(tmp_path: Path, keyfile: Path) -> None:
    listed = _run("keys", "list", "--keys", str(keyfile), "--json")
    data = json.loads(listed.stdout)
    assert data["suite"] == "AES" and not data["sealed"]
    kcvs = {k["name"]: k["kcv"] for k in data["keys"]}
    assert kcvs == {k.name: k.kcv_hex for k in KeyFile.load(keyfile)}
    for key in KeyFile.load(keyfile):
        assert key.value.hex().upper() not in listed.output.upper()
    again = _run("keys", "new", "--out", str(keyfile), "--plaintext")
    assert again.exit_code == 2 and "exists" in again.output


def test_sealed_key_file_needs_the_passphrase_only_to_use_keys(tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    env = {"DUALCARD_KEYS_PASSPHRASE": "operator secret"}
    assert _run("keys", "new", "--out", str(path), "--encrypt", env=env).exit_code == 0
    assert json.loads(_run("keys", "list", "--keys", str(path), "--json").stdout)["sealed"]
    holders = _holders(tmp_path, ["LI/NA,C-1,,,"])
    args = ("batch", "--profile", str(PROFILE), "--keys", str(path), "--input", str(holders),
            "--out-dir", str(tmp_path / "cards"), "--dry-run")
    wrong = _run(*args, env={"DUALCARD_KEYS_PASSPHRASE": "guess"})
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.output
    assert _run(*args, env=env).exit_code == 0


def test_import_parts_from_env(tmp_path: Path, keyfile: Path) -> None:
    key = bytes(range(16))
    first = bytes(range(100, 116))
    second = xor(key, first)
    env = {"DUALCARD_KEY_PART_1": first.hex(), "DUALCARD_KEY_PART_2": second.hex()}
    kcvs = [kcv(Algorithm.AES, p).hex() for p in (first, second)]
    result = _run("keys", "import-parts", "--keys", str(keyfile), "--name", "emv_ac", "--replace",
                  "--part-kcv", kcvs[0], "--part-kcv", kcvs[1], "--kcv", "C35280", env=env)
    assert result.exit_code == 0, result.output
    assert "KCV C35280" in result.output and first.hex() not in result.output.lower()
    assert KeyFile.load(keyfile).get("emv_ac").value == key
    bad = _run("keys", "import-parts", "--keys", str(keyfile), "--name", "spare",
               "--part-kcv", "000000", "--part-kcv", kcvs[1], "--kcv", "C35280", env=env)
    assert bad.exit_code == 2 and "component 1 of spare" in bad.output


def test_import_parts_by_hidden_prompt(tmp_path: Path, keyfile: Path) -> None:
    first, second = bytes([1] * 16), bytes([3] * 16)
    key = xor(first, second)
    answers = "\n".join([first.hex(), kcv(Algorithm.AES, first).hex(), second.hex(),
                         kcv(Algorithm.AES, second).hex(), kcv(Algorithm.AES, key).hex()]) + "\n"
    result = _run("keys", "import-parts", "--keys", str(keyfile), "--name", "spare", input=answers)
    assert result.exit_code == 0, result.output
    assert first.hex() not in result.output  # hidden input is not echoed
    assert KeyFile.load(keyfile).get("spare").value == key


def test_batch_exit_codes_and_resume(tmp_path: Path, keyfile: Path) -> None:
    holders = _holders(tmp_path, ["LI/NA,C-1,,,", "WU/DI,C-2,,1201,", "MA/LI,C-3,,,"])
    out = tmp_path / "cards"
    args = ("batch", "--profile", str(PROFILE), "--keys", str(keyfile), "--input", str(holders),
            "--out-dir", str(out))
    first = _run(*args, "--json")
    assert first.exit_code == 8  # row 2 expired long ago
    summary = json.loads(first.stdout)
    assert (summary["issued"], summary["failed"]) == (2, 1)
    assert "expiry" in summary["failures"][0]["reason"]
    assert len(list(out.glob("88*.json"))) == 2
    assert (out / "pin-mailer.csv").exists() and (out / "audit.jsonl").exists()
    again = _run(*args)
    assert again.exit_code == 8 and "3 already done before" in again.output


def test_batch_usage_errors(tmp_path: Path, keyfile: Path) -> None:
    bad = _holders(tmp_path, ["LI/NA,C-1,1234567890123,,"])
    base = ("batch", "--profile", str(PROFILE), "--keys", str(keyfile), "--input", str(bad))
    result = _run(*base, "--out-dir", str(tmp_path / "c"))
    assert result.exit_code == 2 and "row 1, column 'pan'" in result.output
    both = _run(*base, "--out-dir", "x", "--reader", "pcsc:x")
    assert both.exit_code == 2 and "exactly one" in both.output


def test_batch_dry_run_writes_nothing(tmp_path: Path, keyfile: Path) -> None:
    holders = _holders(tmp_path, ["LI/NA,C-1,,,", "MA/LI,C-3,,,"])
    before = sorted(tmp_path.iterdir())
    result = _run("batch", "--profile", str(PROFILE), "--keys", str(keyfile), "--input",
                  str(holders), "--out-dir", str(tmp_path / "cards"), "--dry-run", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["planned"] == 2
    assert sorted(tmp_path.iterdir()) == before


def test_run_one_card_in_an_image(tmp_path: Path, keyfile: Path) -> None:
    image = tmp_path / "card.json"
    blank_card("8860000000000042").save(image)
    holder = json.dumps({"name": "DOE/JANE", "holder_id": "X-1", "pan": "6222030000000071",
                         "card_id": "8860000000000042"})
    args = ("run", "--reader", f"sim:{image}", "--profile", str(PROFILE), "--keys", str(keyfile),
            "--pin-mailer", str(tmp_path / "pins.csv"))
    result = _run(*args, "--holder", holder, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verified"] and data["pan"] == "622203******0071" and data["stripe_written"]
    stored = json.loads(image.read_text())
    assert stored["stripe"]["track2"].startswith(";6222030000000071=")
    same_pan = json.dumps({"name": "ROE/JOHN", "holder_id": "X-2", "pan": "6222030000000071"})
    taken = _run(*args, "--holder", same_pan)
    assert taken.exit_code == 2 and "PAN 622203******0071 is already card 8860000000000042" \
        in taken.output
    other = json.dumps({"name": "ROE/JOHN", "holder_id": "X-2"})
    refused = _run(*args, "--holder", other)
    assert refused.exit_code == 1 and "already personalised" in refused.output
    foreign = tmp_path / "foreign.json"
    _run("keys", "new", "--out", str(foreign), "--plaintext")
    wrong_keys = _run("run", "--reader", f"sim:{image}", "--profile", str(PROFILE), "--keys",
                      str(foreign), "--holder", holder)
    assert wrong_keys.exit_code == 5 and "cryptogram" in wrong_keys.output


def test_run_needs_exactly_one_holder(tmp_path: Path, keyfile: Path) -> None:
    result = _run("run", "--reader", "sim:", "--profile", str(PROFILE), "--keys", str(keyfile))
    assert result.exit_code == 2 and "--holder" in result.output


def test_the_pin_mailer_keeps_one_current_pin_per_card(tmp_path: Path, keyfile: Path) -> None:
    """Three runs for one holder on one card: the card has the last PIN, and so has the
    mailer — the earlier two lines are void, their PINs gone."""
    image, mailer = tmp_path / "card.json", tmp_path / "pins.csv"
    blank_card("8860000000000042").save(image)
    holder = json.dumps({"name": "DOE/JANE", "holder_id": "X-1"})
    args = ("run", "--reader", f"sim:{image}", "--profile", str(PROFILE), "--keys", str(keyfile),
            "--pin-mailer", str(mailer), "--holder", holder, "--json")
    card_ids = {json.loads(_run(*args).stdout)["card_id"] for _ in range(3)}
    assert len(card_ids) == 1
    lines = [line.split(",") for line in mailer.read_text().splitlines()]
    assert lines[0] == ["card_id", "holder_id", "name", "pan_last4", "pin", "status"]
    assert [(line[0], line[4] != "", line[5]) for line in lines[1:]] == \
        [(*card_ids, False, "void")] * 2 + [(*card_ids, True, "current")]
    purse = T0Transport(sim_transports(open_image(image))[1])
    purse.connect()
    PointsClient(purse).verify_pin(lines[-1][4])  # the card's PIN is the current one


def test_a_pin_mailer_of_the_earlier_layout_is_brought_up_to_date(tmp_path: Path) -> None:
    mailer = tmp_path / "pins.csv"
    mailer.write_text("card_id,holder_id,name,pan_last4,pin\n"
                      "8860000000000001,C-1,LI/NA,0015,111111\n"
                      "8860000000000002,C-2,WANG/FANG,0023,222222\n"
                      "8860000000000001,C-1,LI/NA,0015,333333\n")
    holder = next(read_holders_text("name,holder_id\nWANG/FANG,C-2\n"))
    numbers = CardNumbers("8860000000000002", PANRange("622202", 16, 1).pan_at(2), "01")
    card = resolve_card(holder, load_profile(PROFILE), numbers, today=TODAY, pin="444444")
    PINMailer(mailer).add(card)
    assert mailer.read_text().splitlines()[1:] == [
        "8860000000000001,C-1,LI/NA,0015,,void",
        "8860000000000002,C-2,WANG/FANG,0023,,void",
        "8860000000000001,C-1,LI/NA,0015,333333,current",
        "8860000000000002,C-2,WANG/FANG,0023,444444,current"]
