"""Personalisation with the master keys in a token (docs/hsm.md, section 5).

The token path must put on the card exactly what the key file path puts there: the same
card (every chip's memory, the stripe) and the same STORE DATA and PUT KEY commands, for
both suites. What the token is left with after a batch is checked too: no session object,
the master keys as they were. The first tests pin down, on a fresh SoftHSM2 token, the
limits the design works around (a 3DES card key cannot be wrapped at all; an AES one only
if extractable); should a module lift them, they fail and docs/hsm.md can say so.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apdu_specs.crypto.ciphers import Algorithm, ecb_decrypt, ecb_encrypt
from host.cli.exit_codes import ExitCode
from host.cli.perso_cmds import perso
from host.gp import GPClient, apdus
from host.hsm import PKCS11URI
from host.keystore import KeyFile, MasterKey
from host.perso import Personaliser, parse_profile
from host.perso.batch import run_batch
from host.perso.card_keys import CardKeyFactory
from host.perso.chip_run import open_chip
from host.perso.numbering import NumberStore
from host.perso.targets import SimImageTarget
from host.testing.softhsm import USER_PIN
from host.transport.sim import blank_card
from tests.perso.perso_helpers import (
    HOLDERS,
    PROFILE,
    TODAY,
    connect,
    numbered,
    sample_holders,
    sample_keys,
)

MASTER = bytes.fromhex("404142434445464748494A4B4C4D4E4F")
DEK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
KDD = bytes.fromhex("00000000000000000001")
#: the simulated card's name of each suite
CARD_SUITES = {"AES": "AES", "TDES": "3DES"}


def _profile(suite: str) -> Any:
    data = copy.deepcopy(tomllib.loads(PROFILE.read_text()))
    data["issuer"]["suite"] = suite
    return parse_profile(data)


def _import_all(provider: Any, keys: KeyFile) -> None:
    from host.hsm.ceremony import import_key

    for info in keys.info():
        import_key(provider, keys.get(info.name))


@pytest.fixture
def provider(token_uri: PKCS11URI) -> Iterator[Any]:
    from host.hsm.token import TokenKeyProvider

    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as opened:
        yield opened


@pytest.fixture(params=["AES", "TDES"])
def suite(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def both(provider: Any, suite: str) -> tuple[Personaliser, Personaliser]:
    """The key file's personaliser and the token's, over the same master keys."""
    from host.perso.token_keys import TokenCardKeys

    keys = sample_keys(suite)
    _import_all(provider, keys)
    profile = _profile(suite)
    return (Personaliser(profile, keys, today=lambda: TODAY),
            Personaliser(profile, TokenCardKeys(provider, profile), today=lambda: TODAY))


def _personalised(personaliser: Personaliser, suite: str, pin: str = "123456") -> Any:
    holder = sample_holders()[0]
    numbers = numbered(personaliser.profile, [holder])[holder.index]
    plan = personaliser.plan(holder, numbers, pin=pin)
    card = blank_card(plan.card.card_id, suite=CARD_SUITES[suite])
    report = personaliser.personalise(plan, connect(card))
    assert report.verified
    return card.snapshot(), plan


def test_the_token_makes_the_card_the_key_file_makes(both: tuple[Personaliser, Personaliser],
                                                      suite: str, provider: Any) -> None:
    file_path, token_path = both
    by_file, file_plan = _personalised(file_path, suite)
    by_token, token_plan = _personalised(token_path, suite)
    assert provider.session_objects() == 0  # card keys and DEKs destroyed, either suite
    assert by_token == by_file  # both chips' memories (keys, DGIs, PIN), the stripe
    assert token_plan.kcvs == file_plan.kcvs and token_plan.stripe == file_plan.stripe
    assert token_plan.pin_check == file_plan.pin_check
    assert _personalised(file_path, suite, pin="654321")[0] != by_file  # a secret is seen


def test_the_token_sends_the_commands_the_key_file_sends(
        both: tuple[Personaliser, Personaliser], suite: str) -> None:
    """STORE DATA of every application and PUT KEY, in one channel (the same DEK)."""
    file_path, token_path = both
    holder = sample_holders()[0]
    numbers = numbered(file_path.profile, [holder])[holder.index]
    plans = [p.plan(holder, numbers, pin="1234") for p in both]
    card = blank_card(plans[0].card.card_id, suite=CARD_SUITES[suite])
    client = GPClient(connect(card)[2])
    open_chip(client, 2, file_path.keys)
    channel = client.channel
    assert channel is not None
    for chip in (1, 2):
        for file_app, token_app in zip(plans[0].chip_apps(chip), plans[1].chip_apps(chip),
                                       strict=True):
            sent = token_path.keys.sealed(token_app.dgis, token_app.secrets, channel)
            assert _encoded(sent, channel) == _encoded(file_app.dgis, channel)
    assert isinstance(file_path.keys, CardKeyFactory)
    kvn = file_path.profile.isd_key_version
    by_file = apdus.put_key(file_path.keys.isd_keys(channel.kdd), kvn,
                            component=channel.key_component)
    entries, _ = token_path.keys.isd_key_entries(channel, channel.kdd)  # type: ignore[attr-defined]
    assert apdus.put_key_entries(entries, kvn).encode() == by_file.encode()


def _encoded(dgis: Any, channel: Any) -> list[bytes]:
    return [a.encode() for a in apdus.store_data(list(dgis), encrypt=channel.encrypt_sensitive)]


def _p11(provider: Any, key: Any) -> Any:
    """python-pkcs11's object of a card key (the provider holds its handle only)."""
    from host.testing.softhsm import session_object

    return session_object(provider, key)


def _objects(provider: Any) -> dict[str, dict[str, Any]]:
    """Every object the token holds, with its protection and uses."""
    from pkcs11 import Attribute

    names = ("TOKEN", "SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE",
             "ENCRYPT", "DECRYPT", "SIGN", "DERIVE", "WRAP", "UNWRAP", "PRIVATE", "KEY_TYPE")
    return {str(obj[Attribute.LABEL]): {n: obj[getattr(Attribute, n)] for n in names}
            for obj in provider.session.get_objects({})}


def test_a_batch_leaves_the_token_as_it_found_it(provider: Any, tmp_path: Path) -> None:
    """Three cards: no session object left, every master key's attributes unchanged, and each
    card key made for a card sensitive, extractable only to be wrapped, unable to wrap,
    decrypt, derive or sign, and gone before the next."""
    from pkcs11 import Attribute

    from host.perso.token_keys import TokenCardKeys

    keys = sample_keys("AES")
    _import_all(provider, keys)
    before = _objects(provider)
    assert all(o["SENSITIVE"] and not o["EXTRACTABLE"] and o["TOKEN"] for o in before.values())
    profile = _profile("AES")
    personaliser = Personaliser(profile, TokenCardKeys(provider, profile), today=lambda: TODAY,
                                numbers=NumberStore("sqlite://"))
    seen: list[dict[str, bool]] = []
    derive = provider.derive_card_key

    def watched(*args: Any, **kwargs: Any) -> Any:
        key = derive(*args, **kwargs)
        seen.append({a: bool(_p11(provider, key)[getattr(Attribute, a)]) for a in (
            "SENSITIVE", "EXTRACTABLE", "TOKEN", "WRAP", "DECRYPT", "DERIVE", "SIGN")})
        return key

    provider.derive_card_key = watched
    with personaliser.numbers:  # type: ignore[union-attr]
        summary = run_batch(personaliser, sample_holders()[:3], SimImageTarget(tmp_path), None)
    assert summary.ok and summary.issued == 3
    assert len(list(tmp_path.glob("*.json"))) == 3
    assert len(seen) == 3 * (2 * 3 + 2 * 3 + 9)  # ISD keys of 2 chips, 2 x 3 ICC keys, purse
    assert all(s == {"SENSITIVE": True, "EXTRACTABLE": True, "TOKEN": False, "WRAP": False,
                     "DECRYPT": False, "DERIVE": False, "SIGN": False} for s in seen)
    assert provider.session_objects() == 0
    assert _objects(provider) == before


def _counted(calls: list[str], name: str, real: Any) -> Any:
    """``real``, noting ``name`` in ``calls`` at each call."""
    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)
    return counted


def test_each_card_key_is_derived_once_and_planned_keys_are_bounded(provider: Any) -> None:
    """A card key whose KCV the plan needs is derived when the card is planned and wrapped
    from that object (21 derivations a card, not 36); cards planned and never sealed keep
    no more than a bounded number of card key objects in the token."""
    from host.perso.token_keys import _KEPT, TokenCardKeys

    keys = sample_keys("AES")
    _import_all(provider, keys)
    profile = _profile("AES")
    personaliser = Personaliser(profile, TokenCardKeys(provider, profile), today=lambda: TODAY)
    calls: list[str] = []
    for name in ("derive", "derive_card_key"):
        setattr(provider, name, _counted(calls, name, getattr(provider, name)))
    holders = sample_holders()
    assert len(holders) * 15 > _KEPT
    numbers = numbered(profile, holders)
    plans = [personaliser.plan(h, numbers[h.index], pin="1234") for h in holders]
    planned = 15 * len(holders)  # the KCVs: 2 x 3 ICC keys, 9 purse keys a card
    assert calls == ["derive_card_key"] * planned
    assert provider.session_objects() == _KEPT  # the oldest cards' keys destroyed
    card = blank_card(plans[-1].card.card_id, suite=CARD_SUITES["AES"])
    assert personaliser.personalise(plans[-1], connect(card)).verified
    assert calls == ["derive_card_key"] * (planned + 6)  # the card: only its ISD keys more
    assert provider.session_objects() == _KEPT - 15  # its own kept keys were wrapped



def test_the_3des_exception_reads_a_card_key_out_of_a_non_sensitive_object_only(
        provider: Any) -> None:
    """The 3DES path: the card key object is not sensitive (its value is read once), and
    the master it is derived from stays sensitive and not extractable."""
    from pkcs11 import Attribute

    from host.hsm.ceremony import import_key
    from host.hsm.recipe import KeyRecipe
    from host.hsm.sealing import TokenSealer, exposure_stats

    import_key(provider, MasterKey("isd_des", Algorithm.TDES, MASTER))
    master = provider.key("isd_des")
    count = exposure_stats()[0]
    buffers: list[bytearray] = []
    read = provider.read_value_into

    def watched(key: Any, out: bytearray, offset: int) -> None:
        read(key, out, offset)
        assert any(out)  # the value is in our buffer now
        buffers.append(out)

    provider.read_value_into = watched
    with TokenSealer(provider, Algorithm.TDES, DEK) as sealer:
        sealed = sealer.seal([KeyRecipe(master, KDD[:8] * 2), b"\x01"])
        entry, kcv = sealer.key_component(KeyRecipe(master, KDD[2:10] * 2))
    assert len(buffers) == 2 and not any(any(b) for b in buffers)  # wiped before returning
    assert kcv == ecb_encrypt(Algorithm.TDES, ecb_encrypt(Algorithm.TDES, MASTER, KDD[2:10] * 2),
                              bytes(8))[:3] and entry["kcv"] == kcv
    assert ecb_decrypt(Algorithm.TDES, DEK, sealed)[:16] == ecb_encrypt(
        Algorithm.TDES, MASTER, KDD[:8] * 2)
    assert exposure_stats()[0] == count + 2
    assert master.handle[Attribute.SENSITIVE] and not master.handle[Attribute.EXTRACTABLE]
    assert provider.session_objects() == 0


# -- the CLI -----------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, token_uri: PKCS11URI) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DUALCARD_HSM_PIN", USER_PIN)
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(perso, list(args))
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
        return result.exit_code, result.stdout, result.stderr

    return invoke


def _filled(token_uri: PKCS11URI, keys: KeyFile) -> None:
    from host.hsm.token import TokenKeyProvider

    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        _import_all(provider, keys)


def _batch(uri: str, *extra: str) -> tuple[str, ...]:
    return ("batch", "--profile", str(PROFILE), "--keys", uri, "--input", str(HOLDERS),
            "--out-dir", "cards", *extra)


def test_perso_batch_with_a_token(cli: Any, token_uri: PKCS11URI, tmp_path: Path) -> None:
    _filled(token_uri, sample_keys("AES"))
    uri = f"pkcs11:token={token_uri.token}"
    holders = len(sample_holders())
    code, out, _ = cli(*_batch(uri, "--dry-run"))
    assert code == 0 and f"{holders} planned" in out and "15 per-card keys" in out
    assert not (tmp_path / "cards").exists()
    code, out, err = cli(*_batch(uri))
    assert code == 0 and f"{holders} issued" in out, err
    assert len(list((tmp_path / "cards").glob("*.json"))) == holders
    assert (tmp_path / f"{token_uri.token}.numbers.sqlite3").exists()


@pytest.mark.parametrize(("case", "code", "message"), [
    ("pin", ExitCode.HSM_PIN, "user PIN was refused"),
    ("token", ExitCode.HSM_NO_TOKEN, "no token labelled 'elsewhere'"),
    ("object", ExitCode.HSM_NO_KEY, "holds no key 'pvk'"),
    ("type", ExitCode.HSM_KEY_TYPE, "key isd is TDES, the operation needs AES"),
    ("left", ExitCode.HSM_NO_KEY, "holds no key 'cvk.left' (the CVV needs the CVK's left half"),
])
def test_a_token_that_cannot_serve_is_one_line_and_its_own_exit_code(
        cli: Any, token_uri: PKCS11URI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        case: str, code: int, message: str) -> None:
    keys = sample_keys("AES")
    values = {i.name: keys.get(i.name) for i in keys.info()}
    if case == "object":
        del values["pvk"]
    if case == "type":
        values["isd"] = MasterKey("isd", Algorithm.TDES, values["isd"].value)
    _filled(token_uri, KeyFile("AES", values))
    if case == "left":  # a CVK imported before its left half was written beside it
        _destroy(token_uri, "cvk.left")
    label = "elsewhere" if case == "token" else token_uri.token
    if case == "pin":
        monkeypatch.setenv("DUALCARD_HSM_PIN", "000000")
    got, _, err = cli(*_batch(f"pkcs11:token={label}"))
    last = err.strip().splitlines()[-1]
    assert got == code and last.startswith("Error: ") and message in last, err
    assert "Traceback" not in err
    assert not (tmp_path / "cards").exists() and not list(tmp_path.glob("*.sqlite3"))


def _destroy(token_uri: PKCS11URI, label: str) -> None:
    from host.hsm.token import TokenKeyProvider

    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as provider:
        provider.key(label).handle.destroy()


def test_a_malformed_uri_is_a_usage_error(cli: Any) -> None:
    code, _, err = cli("run", "--reader", "sim:card.img", "--holder", '{"name": "LI/NA"}',
                       "--profile", str(PROFILE), "--keys", "pkcs11:token=issuer;pin-value=1234")
    assert code == ExitCode.USAGE and "never goes in the URI" in err


# -- what SoftHSM2 cannot do (why the design is what it is) ------------------------------


def _dek(provider: Any, algorithm: Algorithm) -> Any:
    """A card's DEK as a wrapping key in the token (a session object)."""
    from pkcs11 import Attribute, ObjectClass

    from host.hsm.token import p11_key_type

    return provider.session.create_object({
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: p11_key_type(algorithm, 16),
        Attribute.VALUE: DEK, Attribute.TOKEN: False, Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False, Attribute.WRAP: True, Attribute.ENCRYPT: True})


def test_a_3des_card_key_cannot_be_wrapped_in_the_token(provider: Any) -> None:
    """Why the 3DES suite is the documented exception: no 3DES wrap mechanism at all."""
    from pkcs11 import Mechanism
    from pkcs11 import exceptions as p11

    from host.hsm.ceremony import import_key

    import_key(provider, MasterKey("isd_des", Algorithm.TDES, MASTER))
    dek = _dek(provider, Algorithm.TDES)
    card_key = provider.derive_card_key(provider.key("isd_des"), KDD[:8] * 2)
    try:
        for mechanism, param in ((Mechanism.DES3_ECB, None), (Mechanism.DES3_CBC, bytes(8))):
            with pytest.raises(p11.MechanismInvalid):
                dek.wrap_key(_p11(provider, card_key), mechanism=mechanism,
                             mechanism_param=param)
    finally:
        provider.discard(card_key)
        dek.destroy()


def test_an_aes_card_key_is_wrapped_only_if_extractable(provider: Any) -> None:
    """Why the AES card keys are extractable for their moment: a sensitive, non-extractable
    key is not wrapped, and a trusted wrapping key (``CKA_WRAP_WITH_TRUSTED``) is the
    security officer's to mark, not the personalising user's."""
    from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
    from pkcs11 import exceptions as p11

    from host.hsm.ceremony import import_key

    import_key(provider, MasterKey("isd_aes", Algorithm.AES, MASTER))
    dek = _dek(provider, Algorithm.AES)
    card_key = provider.derive(provider.key("isd_aes"), KDD + bytes(6))
    try:
        with pytest.raises(p11.KeyUnextractable):
            dek.wrap_key(_p11(provider, card_key), mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16))
    finally:
        provider.discard(card_key)
        dek.destroy()
    with pytest.raises(p11.AttributeReadOnly):
        provider.session.create_object({
            Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
            Attribute.VALUE: DEK, Attribute.TOKEN: False, Attribute.WRAP: True,
            Attribute.TRUSTED: True})


def test_the_user_pin_is_the_boundary_of_the_card_keys(provider: Any) -> None:
    """docs/hsm.md: a key derived from a non-extractable master may be marked extractable by
    whoever derives it, and is then wrapped under a key of known value."""
    from pkcs11 import Mechanism

    from host.hsm.ceremony import import_key

    import_key(provider, MasterKey("isd_aes", Algorithm.AES, MASTER))
    derived = provider.derive_card_key(provider.key("isd_aes"), KDD + bytes(6))
    try:
        wrapped = _dek(provider, Algorithm.AES).wrap_key(
            _p11(provider, derived), mechanism=Mechanism.AES_CBC, mechanism_param=bytes(16))
    finally:
        provider.discard(derived)
    card_key = ecb_decrypt(Algorithm.AES, DEK, bytes(wrapped))
    assert card_key == ecb_encrypt(Algorithm.AES, MASTER, KDD + bytes(6))
