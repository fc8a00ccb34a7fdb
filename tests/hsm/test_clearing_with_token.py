"""Clearing with every TAC and cryptogram verified where the issuer's master keys are: the
key file or a token (a fresh SoftHSM2 token per test)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from apdu_specs.crypto.ciphers import Algorithm
from host.backoffice.assets import Asset
from host.backoffice.sample_cards import SampleTerminal
from host.cli.exit_codes import ExitCode
from host.cli.ledger_cmds import ledger
from host.hsm import PKCS11URI
from host.hsm.verifier import ProviderCardVerifier
from host.records.batch import PaymentRecord, PurseRecord
from host.testing.hsm_cards import MasterKeyedCards
from host.testing.softhsm import USER_PIN
from tests.backoffice.backoffice_helpers import T0, TEA_TERMINAL

from .conftest import MakeProvider

CARDS = [f"62000000000000{n:02d}" for n in range(1, 4)]
AT = ["--at", "2025-03-14T09:00:00+08:00"]


def _day(cards: MasterKeyedCards) -> list[PaymentRecord | PurseRecord]:
    terminal = SampleTerminal(TEA_TERMINAL, cards)
    for n, card in enumerate(CARDS):
        terminal.load(card, 10 + n, 1_000 + n, T0 + timedelta(minutes=n))
        terminal.load(card, 5, 500, T0 + timedelta(minutes=n, seconds=5),
                      purse=Asset.CREDIT_POINTS)
        terminal.spend(card, 3, T0 + timedelta(minutes=n, seconds=9))
    return list(terminal.close_batch("B1").records)


def test_every_genuine_record_verifies_and_every_forgery_fails(make_provider: MakeProvider
                                                              ) -> None:
    cards = MasterKeyedCards()
    provider = make_provider({n: (Algorithm.AES, v) for n, v in cards.masters.items()})
    verifier = ProviderCardVerifier(provider, cards.register(CARDS))
    for record in _day(cards):
        if isinstance(record, PurseRecord):
            assert verifier.verify_purse_tac(record)
            forged = replace(record, amount=record.amount + 1)
            assert not verifier.verify_purse_tac(forged)
            assert not verifier.verify_purse_tac(replace(record, card_id=CARDS[0][:-1] + "9"))
        else:
            assert verifier.verify_payment_cryptogram(record)
            assert not verifier.verify_payment_cryptogram(replace(record, atc=record.atc + 1))
            assert not verifier.verify_payment_cryptogram(replace(record, card_id="unknown"))


@pytest.fixture
def ledger_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_uri: PKCS11URI):
    """``dualcard ledger`` with a back office, a merchant and the cards' holders, and the
    issuer's masters imported into the token."""
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey

    cards = MasterKeyedCards()
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        for name, value in cards.masters.items():
            import_key(provider, MasterKey(name, Algorithm.AES, value))
    monkeypatch.setenv("DUALCARD_DB", str(tmp_path / "cli.sqlite3"))
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(ledger, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
        return result.exit_code, result.stdout, result.stderr

    assert run("init", *AT)[0] == 0
    assert run("member", "add", "merchant", "TEA", "--name", "Tea", "--terminal",
               TEA_TERMINAL, *AT)[0] == 0
    for n, card in enumerate(CARDS, start=1):
        assert run("member", "add", "consumer", f"C{n:03d}", "--name", f"holder {n}",
                   "--card", card, *AT)[0] == 0
    assert run("agreement", "add", "TEA-STD", "--issuer", "TEA", "--points", "1",
               "--per-fen", "100", *AT)[0] == 0
    Path("register.json").write_text(json.dumps(cards.register_data(CARDS)))
    terminal = SampleTerminal(TEA_TERMINAL, cards)
    for n, card in enumerate(CARDS):
        terminal.load(card, 10 + n, 1_000 + 100 * n, T0 + timedelta(minutes=n))
    Path("batch.json").write_text(json.dumps(terminal.close_batch("B1").as_dict()))
    return run


def test_ledger_clear_verifies_in_the_token(ledger_cli, token_uri: PKCS11URI) -> None:
    code, out, err = ledger_cli("clear", "batch.json", "--keys", f"pkcs11:token={token_uri.token}",
                                "--card-register", "register.json", "--json", *AT)
    assert code == 0, err
    result = json.loads(out)
    assert (result["status"], result["earned"]) == ("created", {"consumption_points": 33})


def test_a_forged_tac_is_rejected_by_the_token(ledger_cli, token_uri: PKCS11URI) -> None:
    batch = json.loads(Path("batch.json").read_text())
    purse = next(r for r in batch["records"] if r.get("type") == "load")
    purse["tac"] = "00000000"
    Path("forged.json").write_text(json.dumps(batch))
    code, _, _ = ledger_cli("clear", "forged.json", "--keys", f"pkcs11:token={token_uri.token}",
                            "--card-register", "register.json", "--json", *AT)
    assert code == ExitCode.PARTIAL_BATCH


@pytest.mark.parametrize(("env", "uri", "code"), [
    ({"DUALCARD_HSM_PIN": "000000"}, "pkcs11:token={token}", ExitCode.HSM_PIN),
    ({}, "pkcs11:token=no-such-token", ExitCode.HSM_NO_TOKEN),
    ({}, "pkcs11:token={token}?module-path=/nonexistent/lib.so", ExitCode.HSM_NO_TOKEN),
    ({}, "pkcs11:token={token};pin-value=1", ExitCode.USAGE),
])
def test_token_failures_are_one_line_and_a_distinct_exit_code(
        ledger_cli, token_uri: PKCS11URI, monkeypatch: pytest.MonkeyPatch,
        env: dict[str, str], uri: str, code: ExitCode) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    exit_code, _, err = ledger_cli("clear", "batch.json", "--keys",
                                   uri.format(token=token_uri.token),
                                   "--card-register", "register.json", *AT)
    assert exit_code == code, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("Error:")] == \
        [err.strip().splitlines()[-1]]
