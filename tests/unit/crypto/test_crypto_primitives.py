"""Block ciphers, padding and MACs: published vectors plus independent recomputation."""

from __future__ import annotations

import copy
import pickle

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto import ciphers
from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, KeyCiphers
from apdu_specs.crypto.errors import (
    DataLengthError,
    KeyLengthError,
    MACError,
    PaddingError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.mac import cbc_mac, check_mac, cmac, pboc_mac, retail_mac
from apdu_specs.crypto.padding import Padding, pad, pad_method1, pad_method2, unpad_method2

h = bytes.fromhex


# -- published vectors ---------------------------------------------------------------------


def test_sm4_single_block() -> None:
    # V42: GB/T 32907-2016 Appendix A, recomputed.
    key = h("0123456789abcdeffedcba9876543210")
    assert ciphers.ecb_encrypt(Algorithm.SM4, key, key) == h("681edf34d206965e86b3e94f536e4246")
    assert ciphers.ecb_decrypt(Algorithm.SM4, key, h("681edf34d206965e86b3e94f536e4246")) == key


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # V40 and V41: RFC 4493 section 4, Examples 1 and 2, recomputed.
        ("", "bb1d6929e95937287fa37d129b756746"),
        ("6bc1bee22e409f96e93d7e117393172a", "070a16b46b4d4144f79bdd9dd04a287c"),
    ],
)
def test_aes_cmac_rfc4493(message: str, expected: str) -> None:
    key = h("2b7e151628aed2a6abf7158809cf4f3c")
    assert cmac(Algorithm.AES, key, h(message)) == h(expected)


def test_retail_mac_padding_method_2() -> None:
    # V39: knovichikhin/pyemv tests/test_mac.py, recomputed.
    key = h("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB")
    assert retail_mac(key, b"hello world") == h("2BC2D9EDE0CF31F6")


# -- independent recomputation ---------------------------------------------------------------


def _fresh(algorithm: Algorithm, key: bytes, mode: modes.Mode) -> Cipher:
    if algorithm is Algorithm.AES:
        return Cipher(algorithms.AES(key), mode)
    if algorithm is Algorithm.SM4:
        return Cipher(algorithms.SM4(key), mode)
    return Cipher(TripleDES(key if len(key) == 24 else key + key[:8]), mode)


def _shift_left(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    return (value & ((1 << (8 * len(block))) - 1)).to_bytes(len(block), "big")


def _cmac_by_hand(algorithm: Algorithm, key: bytes, message: bytes) -> bytes:
    """NIST SP 800-38B written out: subkeys from E(0), last block XOR K1/K2, CBC-MAC."""
    n = algorithm.block_size
    rb = 0x87 if n == 16 else 0x1B
    enc = _fresh(algorithm, key, modes.ECB()).encryptor()
    lblock = enc.update(bytes(n))

    def double(block: bytes) -> bytes:
        out = _shift_left(block)
        return out[:-1] + bytes([out[-1] ^ rb]) if block[0] & 0x80 else out

    k1 = double(lblock)
    k2 = double(k1)
    if message and len(message) % n == 0:
        last, key_mask = message[-n:], k1
        head = message[:-n]
    else:
        cut = len(message) - len(message) % n
        head = message[:cut]
        last, key_mask = pad_method2(message[cut:], n), k2
    last = bytes(a ^ b for a, b in zip(last, key_mask, strict=True))
    cbc = _fresh(algorithm, key, modes.CBC(bytes(n))).encryptor()
    return cbc.update(head + last)[-n:]


@settings(max_examples=80, deadline=None)
@given(
    algorithm=st.sampled_from([Algorithm.AES, Algorithm.SM4, Algorithm.TDES]),
    key_seed=st.binary(min_size=32, max_size=32),
    message=st.binary(max_size=80),
)
def test_cmac_matches_hand_written_construction(algorithm, key_seed, message) -> None:
    key = key_seed[: algorithm.key_lengths[0]]
    assert cmac(algorithm, key, message) == _cmac_by_hand(algorithm, key, message)


@settings(max_examples=60, deadline=None)
@given(
    algorithm=st.sampled_from([Algorithm.AES, Algorithm.SM4, Algorithm.TDES]),
    operations=st.lists(
        st.tuples(
            st.booleans(),
            st.binary(min_size=16, max_size=16),
            st.integers(0, 5),
            st.binary(min_size=16 * 5, max_size=16 * 5),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_cached_cbc_contexts_match_fresh_ciphers(algorithm, operations) -> None:
    """The live CBC contexts re-apply any IV correctly, call after call."""
    key = bytes(range(algorithm.key_lengths[0]))
    cached = BlockCipher(algorithm, key)
    n = algorithm.block_size
    for encrypt, iv_seed, blocks, payload in operations:
        iv, data = iv_seed[:n], payload[: blocks * n]
        fresh = _fresh(algorithm, key, modes.CBC(iv))
        if encrypt:
            assert cached.encrypt_cbc(data, iv) == fresh.encryptor().update(data)
        else:
            assert cached.decrypt_cbc(data, iv) == fresh.decryptor().update(data)
        assert cached.encrypt_ecb(data) == _fresh(algorithm, key, modes.ECB()).encryptor().update(
            data
        )
        assert ciphers.ecb_encrypt(algorithm, key, data) == cached.encrypt_ecb(data)
        assert ciphers.ecb_encrypt(algorithm, cached, data) == cached.encrypt_ecb(data)


def test_single_des_and_two_key_tdes_expansion() -> None:
    k1, k2 = h("0123456789ABCDEF"), h("FEDCBA9876543210")
    block = h("4E6F772069732074")
    assert ciphers.ecb_encrypt(Algorithm.TDES, k1 + k2, block) == ciphers.ecb_encrypt(
        Algorithm.TDES, k1 + k2 + k1, block
    )
    # Single DES is 3DES with K||K||K.
    assert ciphers.ecb_encrypt(Algorithm.DES, k1, block) == ciphers.ecb_encrypt(
        Algorithm.TDES, k1 * 3, block
    )
    # The widely published DES example: K=0123456789ABCDEF, "Now is t" -> 3FA40E8A984D4815.
    assert ciphers.ecb_encrypt(Algorithm.DES, k1, block) == h("3FA40E8A984D4815")


def test_an_owner_keeps_its_ciphers_and_they_go_with_it() -> None:
    key = bytes(16)
    owned = KeyCiphers(limit=2)
    first = owned.of(Algorithm.AES, key)
    assert owned.of(Algorithm.AES, key) is first
    assert owned.of(Algorithm.SM4, key) is not first
    assert len(owned) == 2
    owned.of(Algorithm.AES, bytes(range(16)))  # past the limit: the old ones go
    assert len(owned) == 1
    assert owned.of(Algorithm.AES, key) is not first
    assert len(copy.deepcopy(owned)) == len(pickle.loads(pickle.dumps(owned))) == 0
    assert "00" not in repr(first)


def test_a_cipher_serves_only_its_own_algorithm() -> None:
    cipher = BlockCipher(Algorithm.AES, bytes(16))
    assert ciphers.cipher_of(Algorithm.AES, cipher) is cipher
    with pytest.raises(UnsupportedAlgorithmError):
        ciphers.ecb_encrypt(Algorithm.SM4, cipher, bytes(16))


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [
        (Algorithm.AES, 15),
        (Algorithm.AES, 17),
        (Algorithm.SM4, 24),
        (Algorithm.TDES, 8),
        (Algorithm.DES, 16),
    ],
)
def test_bad_key_length_is_typed(algorithm: Algorithm, length: int) -> None:
    with pytest.raises(KeyLengthError, match=algorithm.value):
        ciphers.ecb_encrypt(algorithm, bytes(length), bytes(algorithm.block_size))


def test_partial_blocks_and_bad_iv_are_typed() -> None:
    with pytest.raises(DataLengthError):
        ciphers.ecb_encrypt(Algorithm.AES, bytes(16), bytes(15))
    with pytest.raises(DataLengthError):
        ciphers.cbc_decrypt(Algorithm.TDES, bytes(16), bytes(12))
    with pytest.raises(DataLengthError):
        ciphers.cbc_encrypt(Algorithm.AES, bytes(16), bytes(16), iv=bytes(8))
    with pytest.raises(DataLengthError):
        ciphers.xor(b"\x01", b"\x01\x02")
    with pytest.raises(DataLengthError, match="multiple of 8"):
        ciphers.ecb_encrypt(Algorithm.TDES, bytes(16), bytes(12))
    # A rejected call leaves the cached context usable.
    assert ciphers.cbc_encrypt(Algorithm.AES, bytes(16), bytes(16)) == ciphers.ecb_encrypt(
        Algorithm.AES, bytes(16), bytes(16)
    )


# -- padding ---------------------------------------------------------------------------------


@given(data=st.binary(max_size=64), block=st.sampled_from([8, 16]))
def test_method2_round_trip(data: bytes, block: int) -> None:
    padded = pad_method2(data, block)
    assert len(padded) % block == 0
    assert len(padded) - len(data) in range(1, block + 1)
    assert unpad_method2(padded, block) == data


@given(data=st.binary(max_size=64), block=st.sampled_from([8, 16]))
def test_method1_pads_to_block_with_zeros(data: bytes, block: int) -> None:
    padded = pad(data, block, Padding.METHOD_1)
    assert padded == pad_method1(data, block)
    assert len(padded) % block == 0 and len(padded) >= max(len(data), 1)
    assert padded.startswith(data) and set(padded[len(data) :]) <= {0}


def test_method1_empty_message_is_one_block() -> None:
    assert pad_method1(b"", 8) == bytes(8)


@pytest.mark.parametrize(
    "padded",
    [
        "",
        "0102",
        "0102030405060700",  # no 80
        "0102030405060781",  # wrong marker
        "8000000000000000" "0000000000000000",  # padding longer than a block
    ],
)
def test_strict_unpad_rejects(padded: str) -> None:
    with pytest.raises(PaddingError):
        unpad_method2(h(padded), 8)


# -- MAC helpers -----------------------------------------------------------------------------


def test_cbc_mac_is_last_cbc_block() -> None:
    key = h("0123456789ABCDEFFEDCBA9876543210")
    data = b"0123456789"
    padded = pad_method2(data, 8)
    expected = _fresh(Algorithm.TDES, key, modes.CBC(bytes(8))).encryptor().update(padded)[-8:]
    assert cbc_mac(Algorithm.TDES, key, data) == expected


def test_retail_mac_equals_des_chain_then_triple_des() -> None:
    key = h("0123456789ABCDEFFEDCBA9876543210")
    data = bytes(range(21))
    padded = pad_method2(data, 8)
    chain = _fresh(Algorithm.TDES, key[:8] * 3, modes.CBC(bytes(8))).encryptor()
    h_prev = chain.update(padded[:-8])[-8:] if len(padded) > 8 else bytes(8)
    last = bytes(a ^ b for a, b in zip(h_prev, padded[-8:], strict=True))
    expected = _fresh(Algorithm.TDES, key, modes.ECB()).encryptor().update(last)
    assert retail_mac(key, data) == expected
    with pytest.raises(KeyLengthError):
        retail_mac(bytes(24), data)


def test_pboc_mac_is_four_bytes_of_des_cbc_mac() -> None:
    key = h("3c05f429713d0188")
    data = bytes(range(15))
    assert pboc_mac(key, data) == cbc_mac(Algorithm.DES, key, data)[:4]


def test_check_mac() -> None:
    check_mac(b"\x01\x02", b"\x01\x02")
    with pytest.raises(MACError, match="MAC2"):
        check_mac(b"\x01\x02", b"\x01\x03", what="MAC2")
