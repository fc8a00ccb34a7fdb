"""``dualcard hsm`` as an operator runs it: init, import by components, list, check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from apdu_specs.crypto.ciphers import Algorithm, xor
from apdu_specs.crypto.kcv import kcv
from host.cli.exit_codes import ExitCode
from host.cli.hsm_cmds import hsm
from host.testing.softhsm import SO_PIN, USER_PIN, require_softhsm

ONE = bytes.fromhex("0123456789abcdeffedcba9876543210")
TWO = bytes.fromhex("11111111111111112222222222222222")


def _kcv(value: bytes) -> str:
    return kcv(Algorithm.AES, value).hex().upper()


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module = require_softhsm()
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\n")
    for name, value in {"SOFTHSM2_CONF": str(conf), "DUALCARD_PKCS11_MODULE": module,
                        "DUALCARD_HSM_PIN": USER_PIN, "DUALCARD_HSM_SO_PIN": SO_PIN,
                        "DUALCARD_KEY_PART_1": ONE.hex(), "DUALCARD_KEY_PART_2": TWO.hex()
                        }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(hsm, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
        return result.exit_code, result.stdout, result.stderr

    assert invoke("init", "--token", "issuer")[0] == 0
    return invoke


def test_import_list_check(run) -> None:
    combined = _kcv(xor(ONE, TWO))
    code, out, err = run("import", "pkcs11:token=issuer;object=emv_ac", "--part-kcv", _kcv(ONE),
                         "--part-kcv", _kcv(TWO), "--kcv", combined, "--json")
    assert code == 0, err
    assert json.loads(out) == {"name": "emv_ac", "algorithm": "AES", "kcv": combined}
    code, out, _ = run("list", "pkcs11:token=issuer", "--json")
    assert json.loads(out)["keys"] == [{"name": "emv_ac", "algorithm": "AES", "bits": 128,
                                        "kcv": combined}]
    assert run("check", "pkcs11:token=issuer", "--expect", f"emv_ac={combined}")[0] == 0
    code, _, err = run("check", "pkcs11:token=issuer", "--expect", "emv_ac=000000")
    assert code == ExitCode.VERIFY_MISMATCH and "expected 000000" in err
    code, _, err = run("check", "pkcs11:token=issuer", "--expect", "purse_tac=000000")
    assert code == ExitCode.HSM_NO_KEY and "purse_tac" in err


def test_a_wrong_component_kcv_imports_nothing(run) -> None:
    code, _, err = run("import", "pkcs11:token=issuer;object=emv_ac", "--part-kcv", _kcv(ONE),
                       "--part-kcv", "000000", "--kcv", _kcv(xor(ONE, TWO)))
    assert code == ExitCode.USAGE and "component 2" in err
    assert "0 keys" in run("list", "pkcs11:token=issuer")[1]


def test_import_needs_the_object_name(run) -> None:
    code, _, err = run("import", "pkcs11:token=issuer", "--part-kcv", _kcv(ONE),
                       "--part-kcv", _kcv(TWO), "--kcv", _kcv(xor(ONE, TWO)))
    assert code == ExitCode.USAGE and "object=" in err


def test_wrong_pin_and_missing_token_have_their_own_exit_codes(run, monkeypatch) -> None:
    assert run("list", "pkcs11:token=elsewhere")[0] == ExitCode.HSM_NO_TOKEN
    monkeypatch.setenv("DUALCARD_HSM_PIN", "000000")
    assert run("list", "pkcs11:token=issuer")[0] == ExitCode.HSM_PIN
