"""EMV card keys and cryptograms: published 3DES vectors, AES/SM4 by cross-check."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import cmac as crypto_cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.emv import EMVScheme, MasterKeyOption, derivation_digits
from apdu_specs.crypto.errors import (
    CryptogramError,
    DataLengthError,
    FormatError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.padding import Padding
from apdu_specs.crypto.parity import has_odd_parity

h = bytes.fromhex
TDES = EMVScheme(Algorithm.TDES)
AES = EMVScheme(Algorithm.AES)
SM4 = EMVScheme(Algorithm.SM4)

# Inputs of knovichikhin/pyemv (kd.py, ac.py docstrings; HSM-checked tests).
IMK = h("0123456789abcdeffedcba9876543210")
SK_AC = h("aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb")


def test_icc_master_key_option_a() -> None:
    # V27: knovichikhin/pyemv kd.py docstring, recomputed.
    mk = TDES.icc_master_key(IMK, "12345678901234567", "01")
    assert mk == h("73AD54688CEF2934B0979857E3C719F1")
    assert has_odd_parity(mk)


def test_icc_master_key_option_b() -> None:
    # Without a vector ID: knovichikhin/pyemv pyemv/kd.py derive_icc_mk_b docstring
    # (same IMK, PAN and PSN as V27); recomputed here.
    mk = TDES.icc_master_key(IMK, "12345678901234567", "01", MasterKeyOption.B)
    assert mk == h("AD406D7F6D7570916D75E5DCAB8CF737")


def test_option_b_falls_back_to_a_for_short_pans() -> None:
    pan = "4761739001010010"
    assert derivation_digits(pan, "01", MasterKeyOption.B) == derivation_digits(pan, "01")
    assert derivation_digits("123", "45") == "0000000000012345"


def test_common_session_key() -> None:
    # V29: knovichikhin/pyemv kd.py docstring, recomputed.
    sk = TDES.session_key(IMK, h("001C000000000000"))
    assert sk == h("E9FB384AF807B940FEDCEA613461B0C4")
    assert TDES.ac_session_key(IMK, 0x001C) == sk


def test_application_cryptogram() -> None:
    # V31: knovichikhin/pyemv tests (HSM-checked), recomputed.
    data = h("000000002000000000000000012400000080000124110309003804823e58000001")
    assert TDES.application_cryptogram(SK_AC, data) == h("3B76CF10FECD8789")
    TDES.verify_application_cryptogram(SK_AC, data, h("3B76CF10FECD8789"))
    with pytest.raises(CryptogramError):
        TDES.verify_application_cryptogram(SK_AC, data, h("3B76CF10FECD8788"))
    # Visa CVN10 pads with zeros: a different cryptogram over the same data.
    assert TDES.application_cryptogram(SK_AC, data, Padding.METHOD_1) != h("3B76CF10FECD8789")


def test_arpc_method_1() -> None:
    # V32: knovichikhin/pyemv ac.py docstring, recomputed.
    arpc = TDES.arpc_method1(SK_AC, h("1234567890ABCDEF"), h("0000"))
    assert arpc == h("F5E6F44147E2F1B0")
    TDES.verify_arpc_method1(SK_AC, h("1234567890ABCDEF"), h("0000"), arpc)
    with pytest.raises(CryptogramError):
        TDES.verify_arpc_method1(SK_AC, h("1234567890ABCDEF"), h("3030"), arpc)


def test_arpc_method_2() -> None:
    # V33: knovichikhin/pyemv ac.py docstring, recomputed.
    arpc = TDES.arpc_method2(SK_AC, h("1234567890ABCDEF"), h("00000000"))
    assert arpc == h("9308BEBC")
    TDES.verify_arpc_method2(SK_AC, h("1234567890ABCDEF"), h("00000000"), arpc)
    with pytest.raises(CryptogramError):
        TDES.verify_arpc_method2(SK_AC, h("1234567890ABCDEF"), h("00800000"), arpc)


# -- AES / SM4 variants (no published vectors): independent recomputation ---------------


def _ecb(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    cipher = algorithms.AES(key) if algorithm is Algorithm.AES else algorithms.SM4(key)
    return Cipher(cipher, modes.ECB()).encryptor().update(data)


def _cmac(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    cipher = algorithms.AES(key) if algorithm is Algorithm.AES else algorithms.SM4(key)
    mac = crypto_cmac.CMAC(cipher)
    mac.update(data)
    return mac.finalize()


@pytest.mark.parametrize("scheme", [AES, SM4], ids=["AES", "SM4"])
def test_block16_session_key_and_cryptograms(scheme: EMVScheme) -> None:
    alg = scheme.algorithm
    mk = bytes(range(16))
    sk = scheme.ac_session_key(mk, 0x0102)
    assert sk == _ecb(alg, mk, h("0102") + bytes(14))
    data = bytes(range(29))
    ac = scheme.application_cryptogram(sk, data)
    assert ac == _cmac(alg, sk, data)[:8]
    arpc2 = scheme.arpc_method2(sk, ac, h("00800000"), b"\x01\x02")
    assert arpc2 == _cmac(alg, sk, ac + h("00800000") + b"\x01\x02")[:4]
    arpc1 = scheme.arpc_method1(sk, ac, h("3030"))
    y = bytes(a ^ b for a, b in zip(ac, h("3030") + bytes(6), strict=True))
    assert arpc1 == _ecb(alg, sk, y + bytes(8))[:8]


def test_aes_256_session_key_uses_both_halves() -> None:
    mk = bytes(range(32))
    r = h("0007") + bytes(14)
    left = _ecb(Algorithm.AES, mk, h("0007F0") + bytes(13))
    right = _ecb(Algorithm.AES, mk, h("00070F") + bytes(13))
    assert AES.session_key(mk, r) == left + right
    assert AES.session_key(mk[:24], r) == (
        _ecb(Algorithm.AES, mk[:24], h("0007F0") + bytes(13))
        + _ecb(Algorithm.AES, mk[:24], h("00070F") + bytes(13))
    )[:24]


@pytest.mark.parametrize("scheme", [AES, SM4], ids=["AES", "SM4"])
def test_block16_master_key_choice(scheme: EMVScheme) -> None:
    y = h(derivation_digits("12345678901234567", "01"))
    not_y = bytes(b ^ 0xFF for b in y)
    mk = scheme.icc_master_key(IMK, "12345678901234567", "01")
    assert mk == _ecb(scheme.algorithm, IMK, y + not_y)


@settings(max_examples=40, deadline=None)
@given(
    scheme=st.sampled_from([TDES, AES, SM4]),
    atc=st.integers(0, 0xFFFF),
    data=st.binary(max_size=64),
    flip=st.integers(0, 63),
)
def test_card_and_issuer_agree_and_detect_changes(scheme, atc, data, flip) -> None:
    """Card computes the ARQC, the issuer verifies it; any changed data byte is caught."""
    imk = bytes(range(16))
    card_mk = scheme.icc_master_key(imk, "4761739001010010", "01")
    card_sk = scheme.ac_session_key(card_mk, atc)
    arqc = scheme.application_cryptogram(card_sk, data)
    issuer_sk = scheme.ac_session_key(scheme.icc_master_key(imk, "4761739001010010", "01"), atc)
    scheme.verify_application_cryptogram(issuer_sk, data, arqc)
    if data:
        changed = bytearray(data)
        changed[flip % len(data)] ^= 0x01
        with pytest.raises(CryptogramError):
            scheme.verify_application_cryptogram(issuer_sk, bytes(changed), arqc)


def test_bad_inputs_are_typed() -> None:
    with pytest.raises(FormatError):
        TDES.icc_master_key(IMK, "1234-5678", "01")
    with pytest.raises(FormatError):
        TDES.icc_master_key(IMK, "12345678", "1")
    with pytest.raises(FormatError):
        TDES.ac_session_key(IMK, 0x10000)
    with pytest.raises(DataLengthError):
        TDES.session_key(IMK, bytes(16))
    with pytest.raises(DataLengthError):
        TDES.arpc_method1(SK_AC, bytes(7), bytes(2))
    with pytest.raises(DataLengthError):
        TDES.arpc_method2(SK_AC, bytes(8), bytes(4), bytes(9))
    with pytest.raises(UnsupportedAlgorithmError):
        EMVScheme(Algorithm.DES)
