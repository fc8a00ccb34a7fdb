"""PBOC purse keys, MAC1/MAC2/TAC: a real card log for 3DES, cross-checks for AES and SM4."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac as crypto_cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import (
    DataLengthError,
    FormatError,
    KeyLengthError,
    MACError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.purse import LOAD_EP, PURCHASE_EP, PurseScheme, transaction_time

h = bytes.fromhex
TDES = PurseScheme(Algorithm.TDES)
AES = PurseScheme(Algorithm.AES)
SM4 = PurseScheme(Algorithm.SM4)

# V62: ConardLKL/ChangSha doc/华大智宝/CSMetroScriptandLog_20151102/t2_load.py and
# t2_load.txt (a real card log; keys in doc/华大智宝/t1_initAndActive.py); recomputed here.
DLK = h("374598b5c0b0eae1e1d06609ac5bb369")
DTK = h("caa6025290114bfcc3c9043f70f7a07a")
RANDOM = h("cdef4f20")
AMOUNT = 0x00001C37
TERMINAL = h("000001000050")
TIME = h("20140825103100")


def test_pboc_load_published_log() -> None:
    seslk = TDES.load_session_key(DLK, RANDOM, online_seq=0)
    assert seslk == h("3c05f429713d0188")
    # INITIALIZE FOR LOAD response: balance 0, seq 0000, key version 01, alg 00, random, MAC1.
    assert TDES.load_mac1(seslk, 0, AMOUNT, LOAD_EP, TERMINAL) == h("06B1BEF5")
    # CREDIT FOR LOAD data: 20140825 103100 || MAC2.
    assert TDES.load_mac2(seslk, AMOUNT, LOAD_EP, TERMINAL, TIME) == h("0641DCD8")
    tac_key = TDES.tac_key(DTK)
    assert tac_key == h("096F066DE0E6EB86")
    assert TDES.load_tac(tac_key, AMOUNT, 0, AMOUNT, LOAD_EP, TERMINAL, TIME) == h("ED0F8755")
    assert TDES.algorithm_id == 0x00


def test_transaction_time_encoding() -> None:
    assert transaction_time(dt.datetime(2014, 8, 25, 10, 31, 0)) == TIME


def test_tdes_purchase_session_key_layout() -> None:
    dpk = bytes(range(16))
    key = TDES.purchase_session_key(dpk, h("01020304"), 0x0506, 0x11220708)
    cipher = Cipher(TripleDES(dpk + dpk[:8]), modes.ECB())
    assert key == cipher.encryptor().update(h("0102030405060708"))


# -- AES / SM4 suites: the documented construction recomputed with raw cryptography ------


def _primitive(algorithm: Algorithm, key: bytes):
    return algorithms.AES(key) if algorithm is Algorithm.AES else algorithms.SM4(key)


def _cmac4(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    mac = crypto_cmac.CMAC(_primitive(algorithm, key))
    mac.update(data)
    return mac.finalize()[:4]


@pytest.mark.parametrize("scheme", [AES, SM4], ids=["AES", "SM4"])
def test_block16_suite_construction(scheme: PurseScheme) -> None:
    alg = scheme.algorithm
    dlk = bytes(range(16))
    seslk = scheme.load_session_key(dlk, RANDOM, 3)
    block = RANDOM + h("0003") + h("8000") + h("80") + bytes(7)
    assert seslk == Cipher(_primitive(alg, dlk), modes.ECB()).encryptor().update(block)
    mac1 = scheme.load_mac1(seslk, 500, AMOUNT, LOAD_EP, TERMINAL)
    assert mac1 == _cmac4(alg, seslk, h("000001F4") + h("00001C37") + b"\x02" + TERMINAL)
    assert scheme.tac_key(DTK) == DTK
    tac = scheme.purchase_tac(DTK, 100, PURCHASE_EP, TERMINAL, 9, TIME)
    data = h("00000064") + b"\x06" + TERMINAL + h("00000009") + TIME
    assert tac == _cmac4(alg, DTK, data)


@settings(max_examples=40, deadline=None)
@given(
    scheme=st.sampled_from([TDES, AES, SM4]),
    balance=st.integers(0, 2**31 - 1),  # the balance after the load fits 4 bytes
    amount=st.integers(1, 2**31),
    online_seq=st.integers(0, 0xFFFF),
    card_random=st.binary(min_size=4, max_size=4),
    flip=st.integers(0, 31),
)
def test_card_and_host_agree_on_a_load(scheme, balance, amount, online_seq, card_random, flip):
    """Card and host compute the same MACs; a changed byte in MAC2's data is rejected."""
    dlk, dtk = bytes(range(16)), bytes(range(16, 32))
    card_key = scheme.load_session_key(dlk, card_random, online_seq)
    host_key = scheme.load_session_key(dlk, card_random, online_seq)
    mac1 = scheme.load_mac1(card_key, balance, amount, LOAD_EP, TERMINAL)
    scheme.verify(host_key, scheme.load_mac1_data(balance, amount, LOAD_EP, TERMINAL), mac1)
    mac2 = scheme.load_mac2(host_key, amount, LOAD_EP, TERMINAL, TIME)
    mac2_data = bytearray(scheme.load_mac2_data(amount, LOAD_EP, TERMINAL, TIME))
    scheme.verify(card_key, bytes(mac2_data), mac2, what="MAC2")
    mac2_data[flip % len(mac2_data)] ^= 0x01
    with pytest.raises(MACError, match="MAC2"):
        scheme.verify(card_key, bytes(mac2_data), mac2, what="MAC2")
    tac_key = scheme.tac_key(dtk)
    tac = scheme.load_tac(tac_key, balance + amount, online_seq, amount, LOAD_EP, TERMINAL, TIME)
    tac_data = scheme.load_tac_data(balance + amount, online_seq, amount, LOAD_EP, TERMINAL, TIME)
    scheme.verify(tac_key, tac_data, tac, what="TAC")


@settings(max_examples=30, deadline=None)
@given(
    scheme=st.sampled_from([TDES, AES, SM4]),
    amount=st.integers(0, 2**32 - 1),
    offline_seq=st.integers(0, 0xFFFF),
    terminal_seq=st.integers(0, 2**32 - 1),
)
def test_purchase_mac_round_trip(scheme, amount, offline_seq, terminal_seq) -> None:
    dpk = bytes(range(16))
    sespk = scheme.purchase_session_key(dpk, RANDOM, offline_seq, terminal_seq)
    mac1 = scheme.purchase_mac1(sespk, amount, PURCHASE_EP, TERMINAL, TIME)
    scheme.verify(sespk, scheme.purchase_mac1_data(amount, PURCHASE_EP, TERMINAL, TIME), mac1)
    mac2 = scheme.purchase_mac2(sespk, amount)
    scheme.verify(sespk, amount.to_bytes(4, "big"), mac2)
    other = scheme.purchase_session_key(dpk, RANDOM, offline_seq ^ 1, terminal_seq)
    assert scheme.purchase_mac2(other, amount) != mac2


def test_bad_inputs_are_typed() -> None:
    seslk = TDES.load_session_key(DLK, RANDOM, 0)
    with pytest.raises(FormatError):
        TDES.load_mac1(seslk, -1, AMOUNT, LOAD_EP, TERMINAL)
    with pytest.raises(FormatError):
        TDES.load_mac1(seslk, 0, 2**32, LOAD_EP, TERMINAL)
    with pytest.raises(FormatError):
        TDES.load_session_key(DLK, RANDOM, 0x10000)
    with pytest.raises(DataLengthError):
        TDES.load_mac2(seslk, AMOUNT, LOAD_EP, TERMINAL[:5], TIME)
    with pytest.raises(DataLengthError):
        TDES.load_mac2(seslk, AMOUNT, LOAD_EP, TERMINAL, TIME[:6])
    with pytest.raises(DataLengthError):
        TDES.load_session_key(DLK, RANDOM[:3], 0)
    with pytest.raises(KeyLengthError):
        TDES.tac_key(DTK + DTK[:8])
    with pytest.raises(KeyLengthError):
        AES.load_session_key(bytes(15), RANDOM, 0)
    with pytest.raises(UnsupportedAlgorithmError):
        PurseScheme(Algorithm.DES)
