"""``dualcard host serve`` with the issuers' keys in a fresh SoftHSM2 token: a POS sale
authorised online (ARQC checked, ARPC made in the token) and the points it earns loaded
(MAC1, MAC2 and the TAC in the token), through both network doors of the real service
process; a swiped sale whose CVV is checked in the token; and a token that cannot be used
stops the start with one line and its exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.magstripe.discretionary import DiscretionaryData
from apdu_specs.magstripe.tracks import Track2
from host.cli.exit_codes import ExitCode
from host.cli.host_cmds import host as host_group
from host.hsm import PKCS11URI
from host.hsm.verifier import CARD_REGISTER_FORMAT
from host.keystore import MasterKey
from host.payment.issuer import Decision
from host.payment.stripe import encode_stripe
from host.pos import Journal, Terminal
from host.pos.link import PaymentMethod
from host.pos.network_link import NetworkLink
from host.service.mac import read_key_file
from host.testing.personalise import SAMPLE
from host.testing.softhsm import USER_PIN
from tests.pos.conftest import MERCHANT, PIN, Clock, make_terminal, terminal_files

pytestmark = pytest.mark.sim

ROOT = Path(__file__).resolve().parents[2]
_PAYMENT = SAMPLE.payment_keys
#: the sample issuer's masters, as the key ceremony would put them in its token
MASTERS = {"emv_ac": (Algorithm.AES, _PAYMENT.emv.ac), "emv_smi": (Algorithm.AES, _PAYMENT.emv.smi),
           "emv_smc": (Algorithm.AES, _PAYMENT.emv.smc), "cvk": (Algorithm.TDES, _PAYMENT.cvk),
           "pvk": (Algorithm.TDES, _PAYMENT.pvk),
           "purse_load": (Algorithm.AES, SAMPLE.purse_keys.load_master),
           "purse_tac": (Algorithm.AES, SAMPLE.purse_keys.tac_master)}


def _import(uri: PKCS11URI, masters: dict[str, tuple[Algorithm, bytes]],
            drop: tuple[str, ...] = ()) -> None:
    """The key ceremony of ``masters``; the objects named in ``drop`` destroyed after (a
    token that lacks one)."""
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider

    with TokenKeyProvider.open(uri, USER_PIN, rw=True) as token:
        for name, (algorithm, value) in masters.items():
            import_key(token, MasterKey(name, algorithm, value))
        for name in drop:
            token.session.get_key(label=name).destroy()


@pytest.fixture
def alliance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """The sample alliance's ledger with SHOP A's terminal keyed: (database, key file)."""
    directory = Path(terminal_files(tmp_path)["dir"])
    db, key_file = str(directory / "ledger.sqlite3"), tmp_path / "terminal.key"
    added = CliRunner().invoke(host_group, ["terminal", "add", MERCHANT.terminal_hex, "--db", db,
                                            "--key-out", str(key_file)])
    assert added.exit_code == 0, added.output
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    # the card register: the sample card's PANs (public data), for the back office to
    # check the cryptogram of the sale a load claims, in the token
    (directory / "register.json").write_text(json.dumps({
        "format": CARD_REGISTER_FORMAT, "cards": {SAMPLE.identity: {
            p.product.value: {"pan": p.pan, "psn": p.psn} for p in (SAMPLE.debit, SAMPLE.credit)}}}))
    return db, key_file


def _serve_args(db: str, uri: str) -> list[str]:
    return ["serve", "--db", db, "--iso-port", "0", "--http-port", "0", "--bank-id", "bank",
            "--payment-keys", uri, "--points-keys", uri, "--card-keys", uri,
            "--card-register", str(Path(db).parent / "register.json"), "--plain",
            "--workers", "4"]


@pytest.fixture
def served(alliance: tuple[str, Path], token_uri: PKCS11URI) -> Iterator[tuple[int, str]]:
    """The real service process over the token: (ISO 8583 port, HTTP base URL)."""
    _import(token_uri, MASTERS)
    server = subprocess.Popen(
        [sys.executable, "-m", "host.cli.main", "host",
         *_serve_args(alliance[0], f"pkcs11:token={token_uri.token}")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        iso = server.stdout.readline()  # type: ignore[union-attr]
        http = server.stdout.readline()  # type: ignore[union-attr]
        assert iso.startswith("dualcard host: ISO 8583"), iso + server.stderr.read()  # type: ignore[union-attr]
        yield int(iso.rsplit(":", 1)[1]), "http://" + http.split(" on ")[1].strip()
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=60)
    assert server.returncode == 0, errors
    logs = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    assert not [e for e in logs if e.get("level") == "error"], errors
    assert all(value.hex() not in errors.lower() for _, value in MASTERS.values())


@contextmanager
def _terminal(served: tuple[int, str], alliance: tuple[str, Path], sim_card: Any,
              tmp_path: Path) -> Iterator[tuple[Terminal, NetworkLink]]:
    """SHOP A's terminal and its network link to the served host."""
    port, http = served
    key = read_key_file(alliance[1])[1]
    with NetworkLink("127.0.0.1", port, merchant=MERCHANT, key=key, http=http,
                     timeout=30) as link:
        journal = Journal(tmp_path / "journal.sqlite3", terminal_id=MERCHANT.terminal_hex)
        try:
            yield make_terminal(sim_card, link, journal, Clock()), link
        finally:
            journal.close()


def test_a_sale_and_its_points_through_the_network_with_the_token(
        served: tuple[int, str], alliance: tuple[str, Path], sim_card: Any,
        tmp_path: Path) -> None:
    with _terminal(served, alliance, sim_card, tmp_path) as (terminal, _):
        sale = terminal.purchase(123_45, pin=PIN, method=PaymentMethod.DEBIT)
    # the ARQC verified and the ARPC made in the token: the card took the issuer's answer
    assert sale.approved and sale.arc == b"00" and sale.message == "approved online"
    # each load's MAC1 checked, MAC2 made and TAC checked in the token, over HTTP
    assert {m.purse: m.points for m in sale.points} == {Purse.CONSUMPTION: 123, Purse.BANK: 61}


def _track2(cvv: str | None = None) -> Track2:
    """The sample debit card's stripe track 2; with another CVV if ``cvv`` is given."""
    track = Track2.decode(encode_stripe(SAMPLE.debit, SAMPLE.payment_keys).track2,
                          check_luhn=False)
    if cvv is None:
        return track
    data = DiscretionaryData.parse(track.discretionary)
    assert data.cvv != cvv
    return replace(track, discretionary=replace(data, cvv=cvv).encode())


def test_a_swiped_sale_is_approved_with_its_cvv_checked_in_the_token(
        served: tuple[int, str], alliance: tuple[str, Path], sim_card: Any,
        tmp_path: Path) -> None:
    """The stripe's CVV is computed in the token (the CVK and its left half, written beside
    it by the key ceremony); a forged CVV is declined."""
    with _terminal(served, alliance, sim_card, tmp_path) as (terminal, link):
        sale = terminal.stripe_purchase(80_00, _track2().encode(), chip_error="SELECT: 6F00",
                                        earn=False)
        forged = link.authorise_stripe(_track2(cvv="000"), 80_00)
    assert sale.approved and sale.message == "approved online (stripe)", sale.message
    assert forged.decision is Decision.DECLINE and "CVV does not verify" in forged.reason
    assert forged.authorisation_id is None


@pytest.mark.parametrize(("masters", "drop", "env", "code", "message"), [
    (MASTERS, (), {"DUALCARD_HSM_PIN": "000000"}, ExitCode.HSM_PIN, "the user PIN was refused"),
    ({n: v for n, v in MASTERS.items() if n != "pvk"}, (), {}, ExitCode.HSM_NO_KEY,
     "holds no key 'pvk'"),
    ({n: v for n, v in MASTERS.items() if n != "cvk"}, (), {}, ExitCode.HSM_NO_KEY,
     "holds no key 'cvk'"),
    (MASTERS, ("cvk.left",), {}, ExitCode.HSM_NO_KEY, "holds no key 'cvk.left'"),
    ({n: v for n, v in MASTERS.items() if n != "purse_tac"}, (), {}, ExitCode.HSM_NO_KEY,
     "holds no key 'purse_tac'"),
])
def test_a_token_that_cannot_serve_stops_the_start_in_one_line(
        alliance: tuple[str, Path], token_uri: PKCS11URI, monkeypatch: pytest.MonkeyPatch,
        masters: dict[str, tuple[Algorithm, bytes]], drop: tuple[str, ...],
        env: dict[str, str], code: ExitCode, message: str) -> None:
    _import(token_uri, masters, drop)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(host_group, _serve_args(alliance[0],
                                                        f"pkcs11:token={token_uri.token}"))
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_token_verifier_needs_the_card_register(alliance: tuple[str, Path],
                                                  token_uri: PKCS11URI) -> None:
    args = _serve_args(alliance[0], f"pkcs11:token={token_uri.token}")
    at = args.index("--card-register")
    result = CliRunner().invoke(host_group, args[:at] + args[at + 2:])
    assert result.exit_code == ExitCode.USAGE and "--card-register" in result.stderr
