"""Key specifications: sources, schemes, refusals, and diversification against cards."""

from __future__ import annotations

import pytest

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.diversify import Diversification
from apdu_specs.crypto.keyset import StaticKeys
from cardlib.card import DualChipCard
from cardlib.security_domain import install_isd
from cardlib.security_domain.identity import CardIdentity
from host.gp import KeyResolver, KeySpecError, Subset, parse_key_spec
from simulator.card import SimulatedCard

from .gp_helpers import client

TEST_KEY = bytes(range(0x40, 0x50))
KDD = bytes(range(10))


def test_gp_default_is_the_gp_test_key() -> None:
    spec = parse_key_spec("default")
    assert spec.keys.enc == spec.keys.mac == spec.keys.dek == TEST_KEY
    assert spec.scheme is None and spec.text == "default"
    assert "504A77" in spec.describe(Algorithm.AES)  # AES KCV of 40..4F (16 x 01 convention)
    assert "8BAF47" in spec.describe(Algorithm.TDES)  # the 3DES KCV GPPro prints for it


def test_gp_env_single_and_split() -> None:
    env = {"K": "00" * 16, "S_ENC": "11" * 16, "S_MAC": "22" * 16, "S_DEK": "33" * 16}
    resolver = KeyResolver(env=env)
    assert resolver.parse("env:K").keys.mac == bytes(16)
    split = resolver.parse("env:S").keys
    assert (split.enc, split.mac, split.dek) == (b"\x11" * 16, b"\x22" * 16, b"\x33" * 16)
    assert resolver.parse("S").keys.dek == b"\x33" * 16  # a bare name finds the variables
    with pytest.raises(KeySpecError, match="not set"):
        resolver.parse("env:MISSING")


def test_gp_key_file(tmp_path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[issuer]\nkey = "00112233445566778899AABBCCDDEEFF"\n'
                    '[split]\nenc = "' + "01" * 16 + '"\nmac = "' + "02" * 16 + '"\ndek = "'
                    + "03" * 24 + '"\n', encoding="utf-8")
    issuer = parse_key_spec(f"file:{path}#issuer").keys.enc
    assert issuer.hex() == "00112233445566778899aabbccddeeff"
    assert parse_key_spec("split", key_file=path).keys.dek == b"\x03" * 24
    assert parse_key_spec(f"kdf3:file:{path}#issuer").scheme is Diversification.KDF3
    with pytest.raises(KeySpecError, match="name one"):
        parse_key_spec(f"file:{path}")
    with pytest.raises(KeySpecError, match="no entry"):
        parse_key_spec(f"file:{path}#other")
    (tmp_path / "bad.toml").write_text("[x]\nkey = 'zz'\n", encoding="utf-8")
    with pytest.raises(KeySpecError, match="hex"):
        parse_key_spec(f"file:{tmp_path / 'bad.toml'}#x")


def test_gp_prompt() -> None:
    asked = []
    spec = KeyResolver(prompt=lambda text: asked.append(text) or "AA" * 32).parse("prompt")
    assert asked and spec.keys.enc == b"\xaa" * 32
    with pytest.raises(KeySpecError):
        KeyResolver().parse("prompt")


@pytest.mark.parametrize("text", ["404142434445464748494A4B4C4D4E4F",
                                  "kdf3:00112233445566778899aabbccddeeff",
                                  "emv:40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F"])
def test_gp_key_values_are_refused_in_a_spec(text: str) -> None:
    with pytest.raises(KeySpecError, match="not accepted") as err:
        parse_key_spec(text, env={})
    assert "4041" not in str(err.value) and "0011" not in str(err.value)


def test_gp_kdf3_diversification_vector() -> None:
    # martinpaljak/GlobalPlatformPro
    # library/src/test/java/pro/javacard/gp/test/TestPlaintextKeys.java
    # (shared vector V16): master 40..4F, KDD 00..09, AES-128 → KCVs E79C05 / D1BD77 / 3FDE8C
    keys = parse_key_spec("kdf3:default").card_keys(KDD, Algorithm.AES)
    assert [k.hex().upper() for k in keys.kcvs()] == ["E79C05", "D1BD77", "3FDE8C"]


def test_gp_emv_diversification_vector() -> None:
    # same source (shared vector V14): EMV CPS template, 3DES master 40..4F, KDD 00..09
    keys = parse_key_spec("emv:default").card_keys(KDD, Algorithm.TDES)
    assert [k.hex().upper() for k in keys.kcvs()] == ["C33013", "6F4CA6", "BB8179"]


def test_gp_scheme_and_algorithm_must_agree() -> None:
    with pytest.raises(KeySpecError, match="use kdf3"):
        parse_key_spec("emv:default").card_keys(KDD, Algorithm.AES)
    with pytest.raises(KeySpecError, match="3DES"):
        parse_key_spec("kdf3:default").card_keys(KDD, Algorithm.TDES)


def _card_with(keys: StaticKeys, suite: str) -> SimulatedCard:
    card = DualChipCard("div")
    identity = CardIdentity.derive("div", "chip1")
    install_isd(card.chip1, suite=suite, keys=keys, identity=identity)
    sim = SimulatedCard(card)
    sim.power_on()
    return sim


@pytest.mark.parametrize(("scheme", "suite", "algorithm"), [
    (Diversification.KDF3, "AES", Algorithm.AES), (Diversification.EMV_CPS, "3DES", Algorithm.TDES),
    (Diversification.VISA2, "3DES", Algorithm.TDES), (Diversification.KDF3, "SM4", Algorithm.SM4),
])
def test_gp_diversified_keys_open_their_card(scheme, suite, algorithm) -> None:
    kdd = CardIdentity.derive("div", "chip1").kdd
    card = _card_with(StaticKeys.from_master(TEST_KEY, kdd, scheme, algorithm), suite)
    gp = client(card, keys=f"{scheme.value}:default",
                algorithm=Algorithm.SM4 if suite == "SM4" else None)
    assert gp.channel.kdd == kdd and gp.get_status(Subset.ISD)


def test_gp_key_spec_repr_never_shows_keys() -> None:
    spec = parse_key_spec("env:K", env={"K": "5A" * 16})
    assert "5A5A" not in repr(spec) + repr(spec.keys) + spec.describe(Algorithm.AES)
