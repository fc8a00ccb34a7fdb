"""An operator's day from the CLI alone: keys, a batch of cards, then a look at one card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
