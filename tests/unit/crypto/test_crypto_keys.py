"""Key check values, the KDF, key diversification, DES parity and static key sets."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import cmac as crypto_cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.crypto.ciphers import Algorithm, ecb_encrypt
from apdu_specs.crypto.diversify import (
    Diversification,
    KeyType,
    diversify,
    emv_cps,
    kdf3,
    visa2,
)
from apdu_specs.crypto.errors import (
    DataLengthError,
    FormatError,
    KeyLengthError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.kcv import KCVMethod, kcv
from apdu_specs.crypto.kdf import counter_kdf, scp03_kdf
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.parity import has_odd_parity, with_odd_parity

h = bytes.fromhex

# GlobalPlatformPro test inputs (V14, V16).
MASTER = h("404142434445464748494a4b4c4d4e4f")
KDD = h("00010203040506070809")


def test_emv_cps_diversification_kcvs() -> None:
    # V14: martinpaljak/GlobalPlatformPro TestPlaintextKeys.java, recomputed.
    kcvs = [kcv(Algorithm.TDES, emv_cps(MASTER, KDD, kt)) for kt in KeyType]
    assert kcvs == [h("C33013"), h("6F4CA6"), h("BB8179")]


def test_kdf3_diversification_kcvs() -> None:
    # V16: martinpaljak/GlobalPlatformPro TestPlaintextKeys.java, recomputed.
    kcvs = [kcv(Algorithm.AES, kdf3(MASTER, KDD, kt)) for kt in KeyType]
    assert kcvs == [h("E79C05"), h("D1BD77"), h("3FDE8C")]


def test_visa2_uses_its_six_card_bytes() -> None:
    # Independent form of the VISA2 template: the EMV template over KDD[0..1] || KDD[4..7].
    block = KDD[0:2] + KDD[4:8] + b"\xf0\x02" + KDD[0:2] + KDD[4:8] + b"\x0f\x02"
    assert visa2(MASTER, KDD, KeyType.MAC) == ecb_encrypt(Algorithm.TDES, MASTER, block)
    assert visa2(MASTER, KDD, KeyType.MAC) != emv_cps(MASTER, KDD, KeyType.MAC)


@pytest.mark.parametrize("length", [16, 24, 32])
def test_kdf3_output_length_follows_master_key(length: int) -> None:
    master = bytes(range(length))
    key = kdf3(master, KDD, KeyType.ENC)
    assert len(key) == length
    # First block written out with raw cryptography CMAC.
    mac = crypto_cmac.CMAC(algorithms.AES(master))
    mac.update(b"\x01\x00\x00\x00\x01\x00" + KDD)
    assert key[:16] == mac.finalize()


def test_diversify_dispatch_and_sm4_kdf3() -> None:
    assert diversify(Diversification.EMV_CPS, MASTER, KDD, KeyType.DEK) == emv_cps(
        MASTER, KDD, KeyType.DEK
    )
    assert diversify(Diversification.VISA2, MASTER, KDD, KeyType.DEK) == visa2(
        MASTER, KDD, KeyType.DEK
    )
    sm4_key = diversify(Diversification.KDF3, MASTER, KDD, KeyType.ENC, Algorithm.SM4)
    assert len(sm4_key) == 16 and sm4_key != kdf3(MASTER, KDD, KeyType.ENC)
    with pytest.raises(UnsupportedAlgorithmError):
        kdf3(MASTER, KDD, KeyType.ENC, Algorithm.TDES)
    with pytest.raises(DataLengthError):
        emv_cps(MASTER, KDD[:9], KeyType.ENC)


def test_static_keys_from_master() -> None:
    keys = StaticKeys.from_master(MASTER, KDD, Diversification.EMV_CPS)
    assert keys.algorithm is Algorithm.TDES
    assert keys.kcvs() == (h("C33013"), h("6F4CA6"), h("BB8179"))
    aes = StaticKeys.from_master(MASTER, KDD, Diversification.KDF3)
    assert aes.kcvs() == (h("E79C05"), h("D1BD77"), h("3FDE8C"))
    assert "4041" not in repr(aes) and "E79C05" in repr(aes)
    with pytest.raises(KeyLengthError):
        StaticKeys(bytes(16), bytes(16), bytes(15))


# -- KCV -------------------------------------------------------------------------------------


def test_kcv_conventions() -> None:
    key = bytes(range(16))
    assert kcv(Algorithm.AES, key) == ecb_encrypt(Algorithm.AES, key, b"\x01" * 16)[:3]
    assert kcv(Algorithm.SM4, key) == ecb_encrypt(Algorithm.SM4, key, bytes(16))[:3]
    assert kcv(Algorithm.SM4, key, method=KCVMethod.ONES) == ecb_encrypt(
        Algorithm.SM4, key, b"\x01" * 16
    )[:3]
    assert kcv(Algorithm.TDES, key, length=8) == ecb_encrypt(Algorithm.TDES, key, bytes(8))
    with pytest.raises(FormatError):
        kcv(Algorithm.TDES, key, length=9)


# -- KDF -------------------------------------------------------------------------------------


def test_scp03_kdf_layout_written_out() -> None:
    key, context = bytes(range(16)), bytes(range(100, 116))
    derived = scp03_kdf(Algorithm.AES, key, 0x04, context, 256)

    def block(i: int) -> bytes:
        mac = crypto_cmac.CMAC(algorithms.AES(key))
        mac.update(bytes(11) + b"\x04" + b"\x00" + b"\x01\x00" + bytes([i]) + context)
        return mac.finalize()

    assert derived == block(1) + block(2)
    assert scp03_kdf(Algorithm.AES, key, 0x04, context, 64) != derived[:8]  # L is bound in


@pytest.mark.parametrize(
    ("constant", "bits"), [(-1, 128), (256, 128), (0, 0), (0, 12), (0, 1 << 16)]
)
def test_kdf_rejects_bad_parameters(constant: int, bits: int) -> None:
    with pytest.raises(FormatError):
        scp03_kdf(Algorithm.AES, bytes(16), constant, b"", bits)


def test_counter_kdf_rejects_too_many_blocks() -> None:
    with pytest.raises(FormatError):
        counter_kdf(Algorithm.AES, bytes(16), b"", b"", 16 * 256)


# -- parity ----------------------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=24))
def test_odd_parity(key: bytes) -> None:
    fixed = with_odd_parity(key)
    assert has_odd_parity(fixed)
    assert all(bin(b).count("1") % 2 == 1 for b in fixed)
    assert bytes(b & 0xFE for b in fixed) == bytes(b & 0xFE for b in key)
    assert with_odd_parity(fixed) == fixed
