"""Issuer key store: components with KCVs, key files (plain and sealed), no key in any repr."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.ciphers import Algorithm, xor
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.parity import has_odd_parity
from host.keystore import (
    STANDARD_KEYS,
    KeyCheckError,
    KeyComponent,
    KeyFile,
    KeyFileError,
    KeyStoreError,
    MasterKey,
    PassphraseError,
    SecretSource,
    UnknownKeyError,
    combine_components,
    new_key_file,
    read_key_info,
)

from .perso_helpers import counter_random

pytestmark = pytest.mark.unit

# osmocom/pysim tests/unittests/test_globalplatform.py (vector V13 of the shared vectors):
# AES KCV = AES-ECB(key, 01 x 16)[:3]
V13_ENC = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
V13_KCV = bytes.fromhex("C35280")
CHEAP = 2**4  # scrypt cost for tests (the default, 2^15, is for real files)


def _parts(key: bytes, count: int) -> list[bytes]:
    first = [bytes((i * 37 + n * 11) & 0xFF for i in range(len(key))) for n in range(count - 1)]
    last = key
    for part in first:
        last = xor(last, part)
    return [*first, last]


def _components(key: bytes, count: int, algorithm: Algorithm = Algorithm.AES) -> list[KeyComponent]:
    return [KeyComponent(p, kcv(algorithm, p)) for p in _parts(key, count)]


@pytest.mark.parametrize("count", [2, 3])
def test_components_combine_to_the_published_key(count: int) -> None:
    key = combine_components("isd", Algorithm.AES, _components(V13_ENC, count), V13_KCV)
    assert key.value == V13_ENC
    assert key.kcv == V13_KCV


def test_a_component_with_a_wrong_kcv_is_named() -> None:
    parts = _components(V13_ENC, 3)
    parts[1] = KeyComponent(parts[1].value, b"\x00\x00\x00")
    with pytest.raises(KeyCheckError, match="component 2 of isd"):
        combine_components("isd", Algorithm.AES, parts, V13_KCV)


def test_a_wrong_combined_kcv_stores_nothing() -> None:
    with pytest.raises(KeyCheckError, match="combined key isd: KCV C35280 does not match"):
        combine_components("isd", Algorithm.AES, _components(V13_ENC, 2), b"\x12\x34\x56")


@pytest.mark.parametrize("count", [1, 4])
def test_only_two_or_three_components(count: int) -> None:
    parts = [KeyComponent(V13_ENC, V13_KCV)] * count
    with pytest.raises(KeyStoreError, match="2 or 3 components"):
        combine_components("isd", Algorithm.AES, parts, V13_KCV)


def test_components_of_different_lengths_are_refused() -> None:
    short, long = bytes(16), bytes(24)
    parts = [KeyComponent(short, kcv(Algorithm.AES, short)),
             KeyComponent(long, kcv(Algorithm.AES, long))]
    with pytest.raises(KeyStoreError, match="component 2 of isd has 24 bytes"):
        combine_components("isd", Algorithm.AES, parts, V13_KCV)


@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_tdes_combination_gets_odd_parity_and_keeps_its_kcv(a: bytes, b: bytes) -> None:
    parts = [KeyComponent(a, kcv(Algorithm.TDES, a)), KeyComponent(b, kcv(Algorithm.TDES, b))]
    combined = xor(a, b)
    key = combine_components("cvk", Algorithm.TDES, parts, kcv(Algorithm.TDES, combined))
    assert has_odd_parity(key.value)
    assert key.kcv == kcv(Algorithm.TDES, combined)  # DES ignores parity bits


def test_reprs_show_kcvs_never_keys() -> None:
    key = MasterKey("isd", Algorithm.AES, V13_ENC)
    component = KeyComponent(V13_ENC, V13_KCV)
    keyfile = KeyFile("AES", {"isd": key})
    for text in (repr(key), str(key), repr(component), repr(keyfile)):
        assert V13_ENC.hex() not in text.lower()
        assert "C35280" in text


def test_new_key_file_has_every_standard_key(tmp_path: Path) -> None:
    keyfile = new_key_file("SM4", random=counter_random("x"))
    assert sorted(k.name for k in keyfile) == sorted(STANDARD_KEYS)
    assert keyfile.get("isd").algorithm is Algorithm.SM4
    assert keyfile.get("cvk").algorithm is Algorithm.TDES
    assert len({k.value for k in keyfile}) == len(STANDARD_KEYS)


def test_plain_key_file_round_trip_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keyfile = new_key_file("AES", random=counter_random("y"))
    keyfile.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = KeyFile.load(path)
    assert {k.name: k.value for k in again} == {k.name: k.value for k in keyfile}


def test_sealed_key_file_hides_values_but_lists_kcvs(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keyfile = new_key_file("AES", random=counter_random("z"))
    keyfile.save(path, "correct horse", cost=CHEAP)
    text = path.read_text()
    for key in keyfile:
        assert key.value.hex().upper() not in text
    suite, infos, sealed = read_key_info(path)
    assert sealed and suite == "AES"
    assert {i.name: i.kcv for i in infos} == {k.name: k.kcv_hex for k in keyfile}
    with pytest.raises(PassphraseError, match="encrypted"):
        KeyFile.load(path)
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        KeyFile.load(path, "wrong horse")
    opened = KeyFile.load(path, lambda: "correct horse")
    assert {k.name: k.value for k in opened} == {k.name: k.value for k in keyfile}


def test_sealed_header_is_authenticated(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    new_key_file("AES", random=counter_random("w")).save(path, "pass", cost=CHEAP)
    data = json.loads(path.read_text())
    data["keys"]["isd"]["kcv"] = "000000"
    path.write_text(json.dumps(data))
    with pytest.raises(PassphraseError):
        KeyFile.load(path, "pass")


def test_a_damaged_value_is_caught_by_its_kcv(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    new_key_file("AES", random=counter_random("v")).save(path)
    data = json.loads(path.read_text())
    data["keys"]["isd"]["value"] = "00" * 16
    path.write_text(json.dumps(data))
    with pytest.raises(KeyCheckError, match="key isd: KCV"):
        KeyFile.load(path)


@pytest.mark.parametrize(("change", "message"), [
    ({"format": "something-else"}, "not a dualcard master key file"),
    ({"version": 2}, "version 2 is not supported"),
    ({"keys": []}, "'keys'"),
])
def test_key_file_header_errors(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "keys.json"
    new_key_file("AES", random=counter_random("u")).save(path)
    data = {**json.loads(path.read_text()), **change}
    path.write_text(json.dumps(data))
    with pytest.raises(KeyFileError, match=message):
        KeyFile.load(path)


def test_unknown_key_reference_names_what_is_there() -> None:
    with pytest.raises(UnknownKeyError, match=r"no key 'nope'.*isd"):
        new_key_file("AES", random=counter_random("t")).get("nope")


def test_secret_source_order(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\nignored\n")
    asked: list[str] = []

    def prompt(label: str) -> str:
        asked.append(label)
        return "from-prompt"

    assert SecretSource("pass", "ENV_X", secret_file, prompt).read({"ENV_X": "env"}) == "from-file"
    assert SecretSource("pass", "ENV_X", None, prompt).read({"ENV_X": "env"}) == "env"
    assert SecretSource("pass", "ENV_X", None, prompt).read({}) == "from-prompt"
    assert asked == ["pass"]
    with pytest.raises(KeyStoreError, match=r"set \$ENV_X"):
        SecretSource("pass", "ENV_X").read({})
