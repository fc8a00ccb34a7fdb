"""Personalisation and a token: what the token cannot do inside itself, and the refusal.

Putting a card key on a card means encrypting it under the card's DEK. The first tests
pin down, on a fresh SoftHSM2 token, why that cannot happen inside it without the card key
being made extractable (docs/hsm.md, "Personalisation and a token"); should a module grow
the mechanisms, they fail and the refusal can be lifted. The last ones check that
``perso run`` and ``perso batch`` refuse a token with their own exit code, before anything
is opened or written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apdu_specs.crypto.ciphers import Algorithm, ecb_decrypt, ecb_encrypt
from host.cli.exit_codes import ExitCode
from host.cli.perso_cmds import TOKEN_REFUSED, perso
from host.hsm import PKCS11URI
from host.keystore import MasterKey
from host.testing.softhsm import USER_PIN

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "perso"
MASTER = bytes.fromhex("404142434445464748494A4B4C4D4E4F")
DEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
KDD = bytes.fromhex("00000000000000000001")


@pytest.fixture
def token(token_uri: PKCS11URI) -> Any:
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider

    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        for name, algorithm in (("isd_des", Algorithm.TDES), ("isd_aes", Algorithm.AES)):
            import_key(provider, MasterKey(name, algorithm, MASTER))
        yield provider


def _dek(token: Any, algorithm: Algorithm) -> Any:
    """A card's DEK as a wrapping key in the token (a session object)."""
    from pkcs11 import Attribute, ObjectClass

    from host.hsm.token import p11_key_type

    return token.session.create_object({
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: p11_key_type(algorithm, 16),
        Attribute.VALUE: DEK, Attribute.TOKEN: False, Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False, Attribute.WRAP: True, Attribute.ENCRYPT: True})


def test_a_3des_card_key_cannot_be_encrypted_under_a_3des_dek_in_the_token(token: Any) -> None:
    from pkcs11 import Mechanism
    from pkcs11 import exceptions as p11

    from host.hsm.schemes import emv_cps_card_key

    dek = _dek(token, Algorithm.TDES)
    with emv_cps_card_key(token, token.key("isd_des"), KDD, 1) as card_key:
        for mechanism, param in ((Mechanism.DES3_ECB, None), (Mechanism.DES3_CBC, bytes(8))):
            with pytest.raises((p11.MechanismInvalid, p11.KeyUnextractable)):
                dek.wrap_key(card_key.handle, mechanism=mechanism, mechanism_param=param)


def test_an_aes_card_key_is_wrapped_only_if_extractable(token: Any) -> None:
    """The derived keys the project makes are not extractable, so no wrap takes them out,
    and a trusted wrapping key (which ``CKA_WRAP_WITH_TRUSTED`` would allow) is the security
    officer's to mark, not the personalising user's."""
    from pkcs11 import Attribute, Mechanism
    from pkcs11 import exceptions as p11

    dek = _dek(token, Algorithm.AES)
    card_key = token.derive(token.key("isd_aes"), KDD + bytes(6))
    try:
        assert card_key.handle[Attribute.SENSITIVE] and not card_key.handle[Attribute.EXTRACTABLE]
        for mechanism in (Mechanism.AES_CBC, Mechanism.AES_KEY_WRAP):
            with pytest.raises(p11.KeyUnextractable):
                dek.wrap_key(card_key.handle, mechanism=mechanism, mechanism_param=(
                    bytes(16) if mechanism is Mechanism.AES_CBC else None))
    finally:
        token.discard(card_key)
    with pytest.raises(p11.AttributeReadOnly):
        token.session.create_object({**_dek_template(), Attribute.TRUSTED: True})


def _dek_template() -> dict[Any, Any]:
    from pkcs11 import Attribute, KeyType, ObjectClass

    return {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
            Attribute.VALUE: DEK, Attribute.TOKEN: False, Attribute.WRAP: True}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(perso, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
        return result.exit_code, result.stderr

    return invoke


COMMON = ("--profile", str(EXAMPLES / "profile.toml"), "--pin-mailer", "mailer.csv")


@pytest.mark.parametrize("command", [
    ("batch", "--input", str(EXAMPLES / "holders.csv"), "--out-dir", "cards"),
    ("batch", "--input", str(EXAMPLES / "holders.csv"), "--out-dir", "cards", "--dry-run"),
    ("run", "--reader", "sim:card.img", "--holder", '{"name": "LI/NA", "holder_id": "C-1"}'),
])
def test_perso_refuses_a_token_and_writes_nothing(cli: Any, tmp_path: Path,
                                                  command: tuple[str, ...]) -> None:
    code, err = cli(*command, *COMMON, "--keys", "pkcs11:token=issuer;object=isd")
    assert code == ExitCode.HSM_KEY_TYPE
    assert err.strip() == f"Error: {TOKEN_REFUSED}"
    assert list(tmp_path.iterdir()) == []


def test_a_malformed_uri_is_a_usage_error(cli: Any) -> None:
    code, err = cli("run", "--reader", "sim:card.img", "--holder", '{"name": "LI/NA"}', *COMMON,
                    "--keys", "pkcs11:token=issuer;pin-value=1234")
    assert code == ExitCode.USAGE and "never goes in the URI" in err


def test_a_key_file_that_does_not_exist_is_still_a_usage_error(cli: Any) -> None:
    code, err = cli("run", "--reader", "sim:card.img", "--holder", '{"name": "LI/NA"}', *COMMON,
                    "--keys", "issuer.keys")
    assert code == ExitCode.USAGE and "does not exist" in err


def test_the_user_pin_is_the_boundary_of_the_card_keys(token: Any) -> None:
    """docs/hsm.md: a key derived from a non-extractable master may be marked extractable by
    whoever derives it, and is then wrapped under a key of known value."""
    from pkcs11 import Attribute, KeyType, Mechanism

    from host.hsm.token import secret_key_template

    template = {**secret_key_template(Algorithm.AES, 16), Attribute.EXTRACTABLE: True,
                Attribute.TOKEN: False}
    master = token.key("isd_aes").handle
    assert not master[Attribute.EXTRACTABLE]
    derived = master.derive_key(KeyType.AES, 128, store=False, capabilities=0,
                                mechanism=Mechanism.AES_ECB_ENCRYPT_DATA,
                                mechanism_param=KDD + bytes(6), template=template)
    wrapped = _dek(token, Algorithm.AES).wrap_key(derived, mechanism=Mechanism.AES_CBC,
                                                  mechanism_param=bytes(16))
    card_key = ecb_decrypt(Algorithm.AES, DEK, bytes(wrapped))
    assert card_key == ecb_encrypt(Algorithm.AES, MASTER, KDD + bytes(6))
