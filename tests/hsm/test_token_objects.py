"""What the project leaves in a token: only sensitive, non-extractable keys; nothing that
exports; typed errors for each way a token can be wrong."""

from __future__ import annotations

from typing import Any

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from host.hsm import (
    PKCS11URI,
    HSMUnsupportedError,
    KeyObjectMissingError,
    TokenMissingError,
    TokenPinError,
    WrongKeyTypeError,
)
from host.hsm.schemes import application_cryptogram, purse_tac
from host.keystore import KeyCheckError, KeyComponent, MasterKey
from host.testing.softhsm import USER_PIN, require_softhsm, session_object

MASTER = bytes.fromhex("00112233445566778899aabbccddeeff")


@pytest.fixture
def token(token_uri: PKCS11URI) -> Any:
    from host.hsm.token import TokenKeyProvider

    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        yield provider


def _every_object(token: Any) -> list[Any]:
    from pkcs11 import Attribute, ObjectClass

    return list(token.session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))


def test_every_key_object_made_is_sensitive_and_not_extractable(token: Any) -> None:
    """Master keys from the ceremony and every key the schemes derive (watched while they
    exist: derive is wrapped to look at each object before it is used)."""
    from pkcs11 import Attribute

    from host.hsm.ceremony import import_key

    import_key(token, MasterKey("purse_tac", Algorithm.AES, MASTER))
    import_key(token, MasterKey("emv_ac", Algorithm.TDES, MASTER))
    seen: list[dict[str, bool]] = []
    derive = token.derive

    def watched(*args: Any, **kwargs: Any) -> Any:
        key = derive(*args, **kwargs)
        seen.append({a: bool(session_object(token, key)[getattr(Attribute, a)])
                     for a in ("SENSITIVE", "EXTRACTABLE", "TOKEN", "WRAP", "DECRYPT")})
        return key

    token.derive = watched
    purse_tac(token, token.key("purse_tac"), "6200000000000001", Purse(1), bytes(20))
    application_cryptogram(token, token.key("emv_ac"), "6200000000000001", "01", 7, bytes(29))
    assert len(seen) == 1 + 3  # DTK; ICC MK, session key, its left half
    assert all(s == {"SENSITIVE": True, "EXTRACTABLE": False, "TOKEN": False, "WRAP": False,
                     "DECRYPT": False} for s in seen)
    objects = _every_object(token)
    # derived keys destroyed; a 3DES key has its left half beside it (host.hsm.ceremony)
    assert {o.label for o in objects} == {"purse_tac", "emv_ac", "emv_ac.left"}
    for obj in objects:
        assert obj[Attribute.SENSITIVE] and not obj[Attribute.EXTRACTABLE]
        assert obj[Attribute.PRIVATE]  # a master key is seen only after login
        assert obj[Attribute.NEVER_EXTRACTABLE] or obj[Attribute.ALWAYS_SENSITIVE] is not None


def test_a_key_value_cannot_be_read(token: Any) -> None:
    from pkcs11 import Attribute
    from pkcs11.exceptions import AttributeSensitive

    from host.hsm.ceremony import import_key

    import_key(token, MasterKey("emv_ac", Algorithm.AES, MASTER))
    with pytest.raises(AttributeSensitive):
        token.key("emv_ac").handle[Attribute.VALUE]


def test_import_by_components_checks_each_kcv_and_the_combined_kcv(token: Any) -> None:
    from apdu_specs.crypto.ciphers import xor
    from apdu_specs.crypto.kcv import kcv
    from host.hsm.ceremony import import_components

    one, two = bytes(range(16)), bytes(range(16, 32))
    parts = [KeyComponent(one, kcv(Algorithm.AES, one)), KeyComponent(two, kcv(Algorithm.AES, two))]
    with pytest.raises(KeyCheckError, match="component 2"):
        import_components(token, "k", Algorithm.AES,
                          [parts[0], KeyComponent(two, b"\0\0\0")], kcv(Algorithm.AES, xor(one, two)))
    with pytest.raises(KeyCheckError, match="not stored"):
        import_components(token, "k", Algorithm.AES, parts, b"\0\0\0")
    assert _every_object(token) == []
    expected = kcv(Algorithm.AES, xor(one, two)).hex().upper()
    assert import_components(token, "k", Algorithm.AES, parts, bytes.fromhex(expected)) == expected
    assert [(i.name, i.kcv) for i in token.info()] == [("k", expected)]


def test_a_key_is_never_overwritten(token: Any) -> None:
    from host.hsm.ceremony import import_key

    import_key(token, MasterKey("k", Algorithm.AES, MASTER))
    with pytest.raises(Exception, match="already holds"):
        import_key(token, MasterKey("k", Algorithm.AES, bytes(16)))


def test_a_wrong_pin_or_token_is_named(token_uri: PKCS11URI) -> None:
    from host.hsm.token import TokenKeyProvider

    with pytest.raises(TokenPinError, match="refused"):
        TokenKeyProvider.open(token_uri, "000000")
    with pytest.raises(TokenPinError, match="PIN is needed"):
        TokenKeyProvider.open(token_uri, "")
    with pytest.raises(TokenMissingError, match="no-such"):
        TokenKeyProvider.open(PKCS11URI("no-such", module_path=token_uri.module_path), USER_PIN)


def test_a_missing_or_wrong_key_is_named(token: Any) -> None:
    from host.hsm.ceremony import import_key

    with pytest.raises(KeyObjectMissingError, match="emv_ac"):
        token.key("emv_ac")
    import_key(token, MasterKey("emv_ac", Algorithm.TDES, MASTER))
    with pytest.raises(WrongKeyTypeError, match="TDES"):
        token.key("emv_ac", Algorithm.AES)
    import_key(token, MasterKey("purse_tac", Algorithm.AES, MASTER))
    with pytest.raises(HSMUnsupportedError, match="3DES"):
        token.derive_folded(token.key("purse_tac"), bytes(16))


def test_the_3des_tac_key_is_a_protected_session_key_and_its_buffer_is_zeroed(token: Any
                                                                              ) -> None:
    """The one card key that passes through the process (docs/hsm.md): the buffer it passed
    through is zero, the TAC key made from it is sensitive, not extractable, a session
    object that only encrypts and MACs, and computes the card's TAC."""
    import ctypes

    from pkcs11 import Attribute

    from apdu_specs.crypto.purse import PurseScheme
    from host.hsm.ceremony import import_key
    from host.hsm.fold import fold_into_token
    from host.hsm.schemes import purse_key_data, purse_tac_under
    from host.points.keys import diversify_purse_key

    import_key(token, MasterKey("purse_tac", Algorithm.TDES, MASTER))
    master = token.key("purse_tac")
    buffer = ctypes.create_string_buffer(16)
    fold_into_token(token._module, token.session.handle, master.handle.handle,
                    purse_key_data("6200000000000001", Purse(1)), "probe", buffer=buffer)
    assert buffer.raw == bytes(16)
    key = token.session.get_key(label="probe")
    flags = {a: bool(key[getattr(Attribute, a)]) for a in (
        "SENSITIVE", "EXTRACTABLE", "TOKEN", "DECRYPT", "WRAP", "UNWRAP", "DERIVE", "ENCRYPT")}
    assert flags == {"SENSITIVE": True, "EXTRACTABLE": False, "TOKEN": False, "DECRYPT": False,
                     "WRAP": False, "UNWRAP": False, "DERIVE": False, "ENCRYPT": True}
    key.destroy()
    scheme = PurseScheme(Algorithm.TDES)
    dtk = diversify_purse_key(MASTER, "6200000000000001", Purse(1), Algorithm.TDES)
    tac_key = token.derive_folded(master, purse_key_data("6200000000000001", Purse(1)))
    assert purse_tac_under(token, tac_key, bytes(20)) == scheme.mac(scheme.tac_key(dtk),
                                                                    bytes(20))
    token.discard(tac_key)
    assert not list(token.session.get_objects({Attribute.TOKEN: False}))


def test_missing_softhsm_fails_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No softhsm2-util on PATH: skipped on a developer's machine, a failure under CI=true."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="softhsm2"):
        require_softhsm()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="softhsm2"):
        require_softhsm()
