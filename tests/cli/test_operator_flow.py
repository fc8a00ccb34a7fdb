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
