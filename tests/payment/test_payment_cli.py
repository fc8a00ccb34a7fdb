"""`dualcard pay …` against a simulated card image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from host.cli.pay_cmds import pay
from tests.payment.cards import CVK, PVK, VECTOR_IMK, personalised_card


@pytest.fixture
def image(tmp_path: Path) -> str:
    path = tmp_path / "card.json"
    personalised_card().save(path)
    return f"sim:{path}"


@pytest.fixture
def keys(tmp_path: Path) -> str:
    path = tmp_path / "issuer.json"
    path.write_text(json.dumps({"imk_ac": VECTOR_IMK.ac.hex(), "imk_smi": VECTOR_IMK.smi.hex(),
                                "imk_smc": VECTOR_IMK.smc.hex(), "cvk": CVK.hex(), "pvk": PVK.hex()}))
    return str(path)


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(pay, list(args), input=input, catch_exceptions=False)


def status(image: str) -> dict:
    result = run("status", "--reader", image, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_apps_lists_debit_and_credit(image: str) -> None:
    result = run("apps", "--reader", image)
    assert result.exit_code == 0
    assert result.output.splitlines() == [" 1  F0000000010101    DUALCARD DEBIT",
                                          " 2  F0000000010102    DUALCARD CREDIT"]


def test_read_starts_a_transaction_and_the_image_keeps_it(image: str) -> None:
    assert status(image)["atc"] == 0
    result = run("read", "--reader", image, "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert (data["pan"], data["label"], data["offline_pin"]) == ("620000******0005",
                                                                 "DUALCARD DEBIT", True)
    assert status(image)["atc"] == 1


def test_online_purchase(image: str, keys: str) -> None:
    result = run("purchase", "--reader", image, "--amount", "12.34", "--issuer-keys", keys,
                 "--json", input="1234\n")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{"):])
    assert (out["approved"], out["online"], out["arc"], out["pin_verified"]) == (True, True, "00", True)
    assert out["amount"] == "12.34" and out["cryptogram"] == "TC"
    after = status(image)
    assert (after["atc"], after["last_online_atc"]) == (1, 1)


def test_offline_terminal_within_and_beyond_the_offline_limit(image: str) -> None:
    small = run("purchase", "--reader", image, "--amount", "1.00", "--no-pin")
    assert small.exit_code == 0
    assert small.output == "APPROVED 1.00 DUALCARD DEBIT 620000******0005 — TC ATC 0001\n"
    big = run("purchase", "--reader", image, "--amount", "200.00", "--no-pin")
    assert big.output.startswith("DECLINED 200.00 DUALCARD DEBIT 620000******0005 — AAC")


@pytest.mark.parametrize("args", [
    ("purchase", "--amount", "12.345", "--no-pin"),
    ("purchase", "--amount", "ten", "--no-pin"),
    ("status", "--aid", "F0ZZ"),
])
def test_bad_arguments_are_usage_errors(image: str, args: tuple[str, ...]) -> None:
    result = run(*args, "--reader", image)
    assert result.exit_code == 2 and "Error" in result.output


def test_one_line_errors(tmp_path: Path, image: str) -> None:
    missing = run("apps", "--reader", f"sim:{tmp_path / 'nope.json'}")
    assert missing.exit_code != 0
    assert len(missing.output.strip().splitlines()) == 1 and "nope.json" in missing.output
    no_keys = run("purchase", "--reader", image, "--amount", "1", "--no-pin",
                  "--issuer-keys", str(tmp_path / "absent.json"))
    assert no_keys.exit_code == 2 and no_keys.output.startswith("Error: ")
    assert "absent.json: cannot read" in no_keys.output
    wrong_aid = run("status", "--reader", image, "--aid", "F0000000019999")
    assert wrong_aid.exit_code == 6 and "6A82" in wrong_aid.output
