"""Terminal keys and webhook secrets wrapped under a key-encryption key (host.service.kek):
the key wrap against RFC 3394 and RFC 5649's published vectors, a database wrapped from
its first key, the wrong KEK and a missing one named in one line, a clear database wrapped
once (the keys unchanged behind it) and a terminal served over the network with its key
wrapped."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from host.backoffice import BackOffice
from host.cli.host_cmds import host as host_group
from host.pos.network_link import NetworkLink
from host.service.core import ServiceCore
from host.service.kek import CLEAR, KEK_ENV, KeyVault, KeyWrapError, kek_check_value
from host.service.notices.schema import svc_webhooks
from host.service.notices.store import NoticeSetupError, set_webhook
from host.service.pin_keys import new_zpk, pin_key_of, register_pin_key
from host.service.schema import svc_terminal_keys, svc_terminal_pin_keys
from host.service.services import AllianceServices
from host.service.tcp_server import ISOServer, serve_in_thread
from host.service.terminals import TerminalDirectory, register_terminal
from host.service.wrap_keys import open_vault, wrap_stored_keys
from host.testing.key_files import write_sample_key_files
from host.testing.personalise import SAMPLE
from tests.backoffice.conftest import db_url, pg_server_url, pg_url  # noqa: F401
from tests.pos.conftest import MERCHANT, START, build_office

from .conftest import POLICY

KEK = bytes(range(32))
OTHER_KEK = bytes(range(1, 33))
SECRET = "whsec-test-0123456789abcdef"
TID = MERCHANT.terminal_hex


# -- the key wrap: published vectors ------------------------------------------------------

# RFC 3394 §4.1 (128-bit KEK, 128-bit key), §4.3 (256-bit KEK, 128-bit key) and §4.6
# (256-bit KEK, 256-bit key); tests/vectors/README.md, V70-V72.
RFC3394 = [
    ("000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
     "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"),
    ("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF",
     "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7"),
    ("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"),
]


@pytest.mark.parametrize(("kek", "key", "wrapped"), RFC3394)
def test_a_key_is_wrapped_as_rfc_3394_s4_wraps_it(kek: str, key: str, wrapped: str) -> None:
    vault = KeyVault(bytes.fromhex(kek))
    assert vault.seal_key(bytes.fromhex(key)).hex().upper() == wrapped
    assert vault.open_key(bytes.fromhex(wrapped), len(key) // 2, "the key") == bytes.fromhex(key)


def test_a_secret_is_wrapped_as_rfc_5649_s6_wraps_it() -> None:
    """RFC 5649 §6, the 7-octet key (``466F7250617369``, "ForPasi"); V73."""
    vault = KeyVault(bytes.fromhex("5840DF6E29B02AF1AB493B705BF16EA1AE8338F4DCC176A8"))
    assert vault.seal_secret("ForPasi") == "kwp:afbeb0f07dfbf5419200f2ccb50bb24f"
    assert vault.open_secret("kwp:afbeb0f07dfbf5419200f2ccb50bb24f", "it") == "ForPasi"


def test_a_wrapped_key_altered_or_under_another_kek_does_not_unwrap() -> None:
    wrapped = bytearray(KeyVault(KEK).seal_key(bytes(16)))
    with pytest.raises(KeyWrapError, match="does not unwrap"):
        KeyVault(OTHER_KEK).open_key(bytes(wrapped), 16, "the key")
    wrapped[5] ^= 1
    with pytest.raises(KeyWrapError, match="does not unwrap"):
        KeyVault(KEK).open_key(bytes(wrapped), 16, "the key")


# -- a database's keys --------------------------------------------------------------------

def _stored(office: BackOffice) -> tuple[bytes, bytes, str]:
    with office.db.read() as conn:
        return (bytes(conn.execute(select(svc_terminal_keys.c.mac_key)).scalar_one()),
                bytes(conn.execute(select(svc_terminal_pin_keys.c.zpk)).scalar_one()),
                conn.execute(select(svc_webhooks.c.secret)).scalar_one())


def _keyed(office: BackOffice, vault: KeyVault) -> tuple[bytes, bytes]:
    """SHOP A's terminal given a MAC key and a ZPK, its merchant a webhook, via ``vault``."""
    mac = register_terminal(office.db, TID, at=START, vault=vault).key
    zpk = register_pin_key(office.db, TID, at=START, key=new_zpk(), vault=vault).key
    set_webhook(office.db, MERCHANT.merchant_id, "https://shop.example/hook", SECRET, at=START,
                vault=vault)
    return mac, zpk


def test_a_database_given_a_kek_stores_every_key_wrapped(
        tmp_path: Path, db_url: str) -> None:  # noqa: F811
    office = build_office(tmp_path, db_url)
    try:
        vault = open_vault(office.db, KEK)
        mac, zpk = _keyed(office, vault)
        stored_mac, stored_zpk, stored_secret = _stored(office)
        assert len(stored_mac) == len(stored_zpk) == 24 and mac not in stored_mac
        assert stored_secret.startswith("kwp:") and SECRET not in stored_secret
        with pytest.raises(NoticeSetupError, match="must not start with 'kwp:'"):
            set_webhook(office.db, MERCHANT.merchant_id, "https://shop.example/hook",
                        "kwp:" + SECRET, at=START, vault=vault)
        found = TerminalDirectory(office.db, vault=vault).get(TID)
        assert found is not None and found.key == mac
        assert pin_key_of(office.db, TID, vault) == zpk
        with pytest.raises(KeyWrapError, match="wrapped under a key-encryption key"):
            TerminalDirectory(office.db).get(TID)
        with pytest.raises(KeyWrapError, match="wrapped under a key-encryption key"):
            register_terminal(office.db, TID, at=START, replace=True)  # a clear key: refused
    finally:
        office.close()


def test_the_wrong_kek_or_none_is_refused_naming_the_check_values(tmp_path: Path) -> None:
    office = build_office(tmp_path)
    try:
        open_vault(office.db, KEK)
        with pytest.raises(KeyWrapError) as wrong:
            open_vault(office.db, OTHER_KEK)
        assert str(wrong.value) == (
            f"wrong key-encryption key: KCV {kek_check_value(OTHER_KEK)} given, the "
            f"database's keys are wrapped under KCV {kek_check_value(KEK)}")
        with pytest.raises(KeyWrapError, match=f"KCV {kek_check_value(KEK)}"):
            open_vault(office.db, None)
        assert open_vault(office.db, KEK).kcv == kek_check_value(KEK)
    finally:
        office.close()


def test_a_clear_database_is_refused_a_kek_until_wrapped_once(
        tmp_path: Path, db_url: str) -> None:  # noqa: F811
    office = build_office(tmp_path, db_url)
    try:
        mac, zpk = _keyed(office, open_vault(office.db, None))
        assert _stored(office) == (mac, zpk, SECRET)
        with pytest.raises(KeyWrapError, match="in clear: wrap them first"):
            open_vault(office.db, KEK)
        assert wrap_stored_keys(office.db, KEK, at=START) == 3
        assert wrap_stored_keys(office.db, KEK, at=START) == 0  # once
        with pytest.raises(KeyWrapError, match="wrong key-encryption key"):
            wrap_stored_keys(office.db, OTHER_KEK, at=START)
        vault = open_vault(office.db, KEK)
        stored_mac, stored_zpk, stored_secret = _stored(office)
        assert vault.open_key(stored_mac, 16, "MAC key") == mac
        assert vault.open_key(stored_zpk, 16, "ZPK") == zpk
        assert vault.open_secret(stored_secret, "secret") == SECRET
        with pytest.raises(KeyWrapError, match="stored in clear"):
            vault.open_key(mac, 16, "a clear key")
        assert CLEAR.open_key(mac, 16, "a clear key") == mac
    finally:
        office.close()


def test_a_terminal_whose_key_is_wrapped_is_served(tmp_path: Path) -> None:
    office = build_office(tmp_path)
    try:
        vault = open_vault(office.db, KEK)
        key = register_terminal(office.db, TID, at=START, vault=vault).key
        services = AllianceServices(office, payment_keys=SAMPLE.payment_keys,
                                    points_keys=SAMPLE.purse_keys, bank_id="bank",
                                    policy=POLICY, vault=vault)
        with serve_in_thread(ISOServer(ServiceCore(services))) as address, \
                NetworkLink(*address, merchant=MERCHANT, key=key, timeout=10.0) as link:
            link.echo()  # the service MACs its answer under the unwrapped key
    finally:
        office.close()


# -- the commands -------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _service_logger() -> Iterator[None]:
    """``serve`` points the service's logger at its stderr: put it back after."""
    logger = logging.getLogger("dualcard.service")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(host_group, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_keys_wrap_then_every_command_needs_the_kek(tmp_path: Path) -> None:
    build_office(tmp_path).close()
    db = str(tmp_path / "ledger.sqlite3")
    kek_file = tmp_path / "kek.hex"
    kek_file.write_text(KEK.hex().upper() + "\n")
    code, _ = _invoke("terminal", "add", TID, "--db", db, "--key-out", str(tmp_path / "t.key"))
    assert code == 0
    code, output = _invoke("keys", "wrap", "--db", db, env={KEK_ENV: KEK.hex()})
    assert (code, output) == (0, f"1 keys and secrets wrapped under the KEK of KCV "
                                 f"{kek_check_value(KEK)}\n")
    code, output = _invoke("terminal", "add", TID, "--replace", "--db", db,
                           "--key-out", str(tmp_path / "u.key"),
                           env={KEK_ENV: OTHER_KEK.hex()})
    assert code == 1 and output.count("\n") == 1 and "wrong key-encryption key" in output
    assert not (tmp_path / "u.key").exists()
    code, output = _invoke("terminal", "add", TID, "--replace", "--db", db,
                           "--key-out", str(tmp_path / "v.key"), "--kek-file", str(kek_file))
    assert code == 0 and (tmp_path / "v.key").exists()
    code, output = _invoke("keys", "wrap", "--db", db, "--kek-file", str(kek_file))
    assert output == f"nothing in clear: the keys are wrapped under KCV {kek_check_value(KEK)}\n"


def test_a_malformed_kek_is_named_without_its_value(tmp_path: Path) -> None:
    build_office(tmp_path).close()
    code, output = _invoke("keys", "wrap", "--db", str(tmp_path / "ledger.sqlite3"),
                           env={KEK_ENV: "00112233"})
    assert code == 1 and "16, 24 or 32 bytes" in output and "00112233" not in output
    code, output = _invoke("keys", "wrap", "--db", str(tmp_path / "ledger.sqlite3"),
                           env={KEK_ENV: "zz" * 16})
    assert code == 1 and "is not hex" in output and "zz" not in output


def test_serve_stops_in_one_line_before_serving_under_the_wrong_kek(tmp_path: Path) -> None:
    build_office(tmp_path).close()
    db = str(tmp_path / "ledger.sqlite3")
    files = write_sample_key_files(tmp_path)
    serve = ["serve", "--db", db, "--plain", "--iso-port", "0", "--bank-id", "bank",
             "--payment-keys", str(files.payment_keys), "--points-keys", str(files.points_keys),
             "--card-keys", str(files.card_keys)]
    assert _invoke("keys", "wrap", "--db", db, env={KEK_ENV: KEK.hex()})[0] == 0
    code, output = _invoke(*serve, env={KEK_ENV: OTHER_KEK.hex()})
    assert "ISO 8583 on" not in output  # (before it: the log's warning that TLS is off)
    assert (code, output.splitlines()[-1]) == (1, f"Error: wrong key-encryption key: KCV "
                                                  f"{kek_check_value(OTHER_KEK)} given, the "
                                                  f"database's keys are wrapped under KCV "
                                                  f"{kek_check_value(KEK)}")
    code, output = _invoke(*serve)
    assert code == 1 and "give it in a file or $DUALCARD_KEK" in output.splitlines()[-1]
