"""Algorithm suites: every scheme reachable from the suite a card profile selects."""

from __future__ import annotations

import pytest

from apdu_specs.crypto import AES_SUITE, SM4_SUITE, TDES_SUITE, Algorithm, suite_named
from apdu_specs.crypto.diversify import KeyType
from apdu_specs.crypto.errors import KeyLengthError, UnsupportedAlgorithmError
from apdu_specs.crypto.mac import cmac, retail_mac
from apdu_specs.crypto.suite import SUITES, SecureChannelProtocol

h = bytes.fromhex
KDD = h("00010203040506070809")
MASTER = h("404142434445464748494a4b4c4d4e4f")


def test_suite_lookup() -> None:
    assert suite_named("aes") is AES_SUITE
    assert suite_named(" SM4 ") is SM4_SUITE
    assert suite_named("3DES") is TDES_SUITE is suite_named("tdes")
    assert set(SUITES) == {"AES", "SM4", "TDES"}
    with pytest.raises(UnsupportedAlgorithmError, match="known"):
        suite_named("DES")


@pytest.mark.parametrize("suite", list(SUITES.values()), ids=list(SUITES))
def test_primitives_through_suite(suite) -> None:
    key = suite.generate_key(lambda n: bytes(range(n)))
    assert len(key) == suite.key_length == 16
    suite.check_key(key)
    data = suite.pad(b"abc")
    assert len(data) == suite.block_size and suite.unpad(data) == b"abc"
    assert suite.decrypt_ecb(key, suite.encrypt_ecb(key, data)) == data
    iv = bytes(range(suite.block_size))
    assert suite.decrypt_cbc(key, suite.encrypt_cbc(key, data, iv), iv) == data
    assert len(suite.kcv(key)) == 3
    assert len(suite.kdf(key, 0x04, b"ctx", 128)) == 16
    assert suite.purse.algorithm is suite.algorithm
    assert suite.emv.algorithm is suite.algorithm
    assert repr(suite) == f"AlgorithmSuite({suite.name!r})"
    with pytest.raises(KeyLengthError):
        suite.check_key(bytes(15))


def test_suite_mac_choice() -> None:
    key = bytes(range(16))
    assert AES_SUITE.mac(key, b"x") == cmac(Algorithm.AES, key, b"x")
    assert SM4_SUITE.mac(key, b"x") == cmac(Algorithm.SM4, key, b"x")
    assert TDES_SUITE.mac(key, b"x") == retail_mac(key, b"x")


def test_suite_diversification_and_secure_channel() -> None:
    # V14 / V16 KCVs (GlobalPlatformPro TestPlaintextKeys.java) via the suites.
    assert TDES_SUITE.kcv(TDES_SUITE.diversify(MASTER, KDD, KeyType.ENC)) == h("C33013")
    assert AES_SUITE.kcv(AES_SUITE.diversify(MASTER, KDD, KeyType.MAC)) == h("D1BD77")
    keys = AES_SUITE.diversified_static_keys(MASTER, KDD)
    assert keys.kcvs() == (h("E79C05"), h("D1BD77"), h("3FDE8C"))
    sm4_keys = SM4_SUITE.static_keys(bytes(16), bytes(16), bytes(16))
    assert sm4_keys.algorithm is Algorithm.SM4
    assert AES_SUITE.secure_channel is SM4_SUITE.secure_channel is SecureChannelProtocol.SCP03
    assert TDES_SUITE.secure_channel is SecureChannelProtocol.SCP02
