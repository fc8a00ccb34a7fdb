"""`dualcard reader …` against a simulated card image, recorded in a back office database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.backoffice.database import Database
from host.backoffice.readers import binding_of, readers_history
from host.cli.main import cli
from host.cli.pay_cmds import pay
from tests.payment.cards import CVK, PVK, VECTOR_IMK, personalised_card


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "card.json"
    personalised_card().save(path)
    return f"sim:{path}"


@pytest.fixture
def issuer_keys(tmp_path: Path) -> str:
    path = tmp_path / "issuer.json"
    path.write_text(json.dumps({"imk_ac": VECTOR_IMK.ac.hex(), "imk_smi": VECTOR_IMK.smi.hex(),
                                "imk_smc": VECTOR_IMK.smc.hex(), "cvk": CVK.hex(),
                                "pvk": PVK.hex()}))
    return str(path)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def make_keys(tmp_path: Path, name: str, reader_id: str) -> str:
    path = str(tmp_path / name)
    assert run("reader", "init", "--keys", path, "--reader-id", reader_id).exit_code == 0
    return path


def test_bind_status_unbind_recorded(tmp_path: Path, image: str, issuer_keys: str) -> None:
    mine = make_keys(tmp_path, "mine.json", "5244000000000001")
    db = f"sqlite:///{tmp_path / 'bo.sqlite3'}"
    bound = run("reader", "bind", "--reader", image, "--keys", mine, "--issuer-keys",
                issuer_keys, "--db", db, "--account", "consumer:zhang", "--address", "127.0.0.1")
    assert bound.exit_code == 0, bound.output
    assert bound.output.strip() == ("card 620000******0005 application F0000000010101: "
                                    "bound to reader 5244000000000001")
    record = binding_of(Database(db, ledger=False), "6200000000000005", "F0000000010101")
    assert record is not None
    assert (record.reader_id, record.account, record.network_address) == (
        "5244000000000001", "consumer:zhang", "127.0.0.1")
    status = run("reader", "status", "--reader", image, "--keys", mine, "--json")
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["authenticated"] is True
    refused = CliRunner().invoke(pay, ["read", "--reader", image])
    assert refused.exit_code == 6 and "6982" in refused.output
    unbound = run("reader", "unbind", "--reader", image, "--issuer-keys", issuer_keys,
                  "--keys", mine, "--db", db)
    assert unbound.exit_code == 0, unbound.output
    assert binding_of(Database(db, ledger=False), "6200000000000005", "F0000000010101") is None
    assert readers_history(Database(db, ledger=False), "6200000000000005")[0].unbound_at
    assert CliRunner().invoke(pay, ["read", "--reader", image]).exit_code == 0


def test_a_stranger_reader_is_one_line_and_exit_5(tmp_path: Path, image: str,
                                                  issuer_keys: str) -> None:
    mine = make_keys(tmp_path, "mine.json", "5244000000000001")
    stranger = make_keys(tmp_path, "stranger.json", "5244000000000002")
    assert run("reader", "bind", "--reader", image, "--keys", mine, "--issuer-keys",
               issuer_keys).exit_code == 0
    refused = CliRunner().invoke(cli, ["reader", "status", "--reader", image, "--keys", stranger])
    assert refused.exit_code == 5
    assert refused.output.strip() == ("Error: card 620000******0005 is not bound to reader "
                                      "5244000000000002")


def test_a_bad_key_store_is_one_line(tmp_path: Path, image: str) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    result = CliRunner().invoke(cli, ["reader", "status", "--reader", image, "--keys", str(broken)])
    assert result.exit_code == 2
    assert result.output.startswith("Error: reader key store") and len(result.output.splitlines()) == 1
