"""`dualcard card info` reports both chips: holder data masked, purses and their logs."""

from __future__ import annotations

import json

from click.testing import CliRunner

from host.cli.main import cli
from host.testing.personalise import SAMPLE, sample_card


def test_card_info_shows_both_chips_holder_and_purses(tmp_path):
    image = tmp_path / "card.json"
    sample_card().save(image)
    result = CliRunner().invoke(cli, ["card", "info", "--reader", f"sim:{image}", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    apps = report["chip1"]["payment_applications"]
    assert {a["label"] for a in apps} >= {"DUALCARD DEBIT", "DUALCARD CREDIT"}
    pan = SAMPLE.debit.pan
    debit = next(a for a in apps if a["pan"].endswith(pan[-4:]))
    assert debit["pan"] == pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
    assert pan not in result.output  # never the full PAN
    purses = report["chip2"]["purses"]
    assert set(purses["balances"]) == {"consumption", "bank", "credit"}
    assert report["chip1"]["purses"] is None and report["chip2"]["payment_applications"] == []


def test_card_info_one_chip_human(tmp_path):
    image = tmp_path / "card.json"
    sample_card().save(image)
    result = CliRunner().invoke(cli, ["card", "info", "--reader", f"sim:{image}", "--chip", "2"])
    assert result.exit_code == 0, result.output
    assert "PURSES      consumption" in result.output and "== chip 1" not in result.output
