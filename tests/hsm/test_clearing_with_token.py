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


@pytest.mark.parametrize("algorithm", [Algorithm.AES, Algorithm.TDES])
def test_every_genuine_record_verifies_and_every_forgery_fails(make_provider: MakeProvider,
                                                              algorithm: Algorithm) -> None:
    cards = MasterKeyedCards(algorithm=algorithm)
    provider = make_provider({n: (algorithm, v) for n, v in cards.masters.items()})
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


def _3des_day() -> tuple[dict[str, str], list[PurseRecord], list[str]]:
    """A 3DES issuer's day: its masters, the purse records, and every DTK and TAC key of the
    cards (as the cards hold them and as a provider computes them, single and double length;
    as hex: the cards and the terminal that used them are gone when this returns)."""
    from apdu_specs.crypto.ciphers import BlockCipher, xor
    from host.hsm.schemes import purse_key_data
    from host.records.assets import PURSE_ASSETS

    cards = MasterKeyedCards(algorithm=Algorithm.TDES)
    records = [r for r in _day(cards) if isinstance(r, PurseRecord)]
    master = BlockCipher(Algorithm.TDES, cards.masters["purse_tac"])
    dtks = [dtk for card in CARDS for dtk in cards.keys(card).dtk.values()]
    dtks += [master.encrypt_ecb(purse_key_data(card, purse)) for card in CARDS
             for purse in PURSE_ASSETS]
    return ({n: v.hex() for n, v in cards.masters.items()}, records,
            [k.hex() for dtk in dtks for tac in [xor(dtk[:8], dtk[8:])] for k in (dtk, tac, tac * 2)])


def test_after_a_3des_batch_the_verifier_holds_no_key(token_uri: PKCS11URI) -> None:
    """Every 3DES TAC key made for the batch (each card's DTK folded through one zeroed
    buffer into a session key, docs/hsm.md) lives in the token only: while the verifier
    keeps the cards, no object of the process holds a DTK or a TAC key; when it closes,
    the token's session keys are destroyed."""
    from pkcs11 import Attribute

    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey
    from tests.unit.test_caches import _holders

    masters, records, card_keys = _3des_day()
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        for name, value in masters.items():
            import_key(token, MasterKey(name, Algorithm.TDES, bytes.fromhex(value)))
        verifier = ProviderCardVerifier(token, kept_card_keys=4)
        assert all(verifier.verify_purse_tac(r) for r in records)
        assert len(verifier._card_keys) == 4  # the least recently used destroyed
        assert len(list(token.session.get_objects({Attribute.TOKEN: False}))) == 4
        assert not _bytes_in(vars(verifier))
        for key in card_keys:
            assert _holders(bytes.fromhex(key)) == [], key
        verifier.close()
        assert not verifier._card_keys
        assert not list(token.session.get_objects({Attribute.TOKEN: False}))


def _bytes_in(value: object, depth: int = 0) -> list[object]:
    """The bytes-like values reachable from ``value`` through containers and HeldKeys."""
    from host.hsm import HeldKey

    if isinstance(value, bytes | bytearray | memoryview):
        return [value]
    if depth > 4:
        return []
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        items = list(value)
    elif isinstance(value, HeldKey):
        items = [value.name, value.length]
    else:
        return []
    return [found for item in items for found in _bytes_in(item, depth + 1)]


@pytest.fixture
def ledger_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_uri: PKCS11URI,
               request: pytest.FixtureRequest):
    """``dualcard ledger`` with a back office, a merchant and the cards' holders, and the
    issuer's masters imported into the token (AES, or the algorithm the test names)."""
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.keystore import MasterKey

    algorithm = getattr(request, "param", Algorithm.AES)
    cards = MasterKeyedCards(algorithm=algorithm)
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        for name, value in cards.masters.items():
            import_key(provider, MasterKey(name, algorithm, value))
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


@pytest.mark.parametrize("ledger_cli", [Algorithm.AES, Algorithm.TDES], indirect=True)
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
