"""Every published vector that involves a master key, through the key file and a token.

The vectors are those of tests/vectors/README.md (V13, V14, V27, V29, V31, V32, V33, V39,
V62, V16). A key a scheme derives stays where its master is, so the check there is its KCV,
computed by the provider, against the KCV of the published value. V21 (SCP03 session keys)
is not derived in a token; docs/hsm.md says why.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.diversify import KeyType, kdf3
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.purse import PurseScheme
from host.hsm import FileKeyProvider, HSMUnsupportedError, KeyProvider
from host.hsm.schemes import (
    MacKey,
    ac_session_key,
    arpc_method1_under,
    arpc_method2_under,
    cryptogram_under,
    emv_cps_card_key,
    icc_master_key,
    kdf3_card_key,
    purse_load_mac,
    purse_tac,
    purse_tac_under,
    retail_mac,
)
from host.keystore import KeyFile, MasterKey

from .conftest import MakeProvider

H = bytes.fromhex
TDES, DES, AES = Algorithm.TDES, Algorithm.DES, Algorithm.AES
SK_AC = H("aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb")


def _split(provider: KeyProvider, name: str) -> MacKey:
    return MacKey(provider.key(name, TDES), provider.key(name + "_l", TDES))


def _with_halves(name: str, value: bytes) -> dict[str, tuple[Algorithm, bytes]]:
    """A 3DES key as the whole key and its left half, as ``K1 || K1`` (a retail MAC)."""
    return {name: (TDES, value), name + "_l": (TDES, value[:8] * 2)}


def test_v13_scp03_key_check_values(make_provider: MakeProvider) -> None:
    provider = make_provider({"enc": (AES, H("000102030405060708090a0b0c0d0e0f")),
                              "mac": (AES, H("101112131415161718191a1b1c1d1e1f")),
                              "dek": (AES, H("202122232425262728292a2b2c2d2e2f"))})
    kcvs = {k.name: k.kcv for k in provider.info()}
    assert kcvs == {"enc": "C35280", "mac": "013808", "dek": "840DE5"}


@pytest.mark.parametrize(("key_type", "expected"), [
    (KeyType.ENC, "C33013"), (KeyType.MAC, "6F4CA6"), (KeyType.DEK, "BB8179")])
def test_v14_emv_cps_diversification(make_provider: MakeProvider, key_type: KeyType,
                                     expected: str) -> None:
    provider = make_provider({"isd": (TDES, H("404142434445464748494a4b4c4d4e4f"))})
    with emv_cps_card_key(provider, provider.key("isd"), H("00010203040506070809"),
                          key_type) as card_key:
        assert provider.kcv(card_key).hex().upper() == expected


@pytest.mark.parametrize(("key_type", "expected"), [
    (KeyType.ENC, "E79C05"), (KeyType.MAC, "D1BD77"), (KeyType.DEK, "3FDE8C")])
def test_v16_kdf3_diversification(make_provider: MakeProvider, key_type: KeyType,
                                  expected: str) -> None:
    provider = make_provider({"isd": (AES, H("404142434445464748494a4b4c4d4e4f"))})
    with kdf3_card_key(provider, provider.key("isd"), H("00010203040506070809"),
                       key_type) as card_key:
        assert provider.kcv(card_key).hex().upper() == expected


@given(master=st.binary(min_size=32, max_size=32), kdd=st.binary(min_size=10, max_size=10),
       key_type=st.sampled_from(KeyType))
@settings(max_examples=25, deadline=None)
def test_kdf3_in_a_provider_is_the_pure_kdf3_for_aes_256(master: bytes, kdd: bytes,
                                                          key_type: KeyType) -> None:
    provider = FileKeyProvider(KeyFile("AES", {"isd": MasterKey("isd", AES, master)}))
    with kdf3_card_key(provider, provider.key("isd"), kdd, key_type) as card_key:
        assert provider.kcv(card_key) == kcv(AES, kdf3(master, kdd, key_type))


def test_kdf3_refuses_what_it_cannot_derive(make_provider: MakeProvider) -> None:
    provider = make_provider({"isd": (TDES, H("404142434445464748494a4b4c4d4e4f"))})
    with pytest.raises(HSMUnsupportedError), \
            kdf3_card_key(provider, provider.key("isd"), bytes(10), KeyType.ENC):
        pass


def test_v27_icc_master_key_option_a(make_provider: MakeProvider) -> None:
    provider = make_provider({"emv_ac": (TDES, H("0123456789abcdeffedcba9876543210"))})
    with icc_master_key(provider, provider.key("emv_ac"), "12345678901234567", "01") as mk:
        assert provider.kcv(mk) == kcv(TDES, H("73AD54688CEF2934B0979857E3C719F1"))


def test_v29_common_session_key(make_provider: MakeProvider) -> None:
    provider = make_provider({"mk": (TDES, H("0123456789abcdeffedcba9876543210"))})
    expected = H("E9FB384AF807B940FEDCEA613461B0C4")
    with ac_session_key(provider, provider.key("mk"), 0x001C) as sk:
        assert provider.kcv(sk.key) == kcv(TDES, expected)
        assert sk.left is not None
        assert provider.kcv(sk.left) == kcv(DES, expected[:8])


def test_v31_arqc_retail_mac(make_provider: MakeProvider) -> None:
    provider = make_provider(_with_halves("sk", SK_AC))
    data = H("000000002000000000000000012400000080000124110309003804823e58000001")
    assert cryptogram_under(provider, _split(provider, "sk"), data) == H("3B76CF10FECD8789")


def test_v32_arpc_method1(make_provider: MakeProvider) -> None:
    provider = make_provider({"sk": (TDES, SK_AC)})
    arpc = arpc_method1_under(provider, provider.key("sk"), H("1234567890ABCDEF"), H("0000"))
    assert arpc == H("F5E6F44147E2F1B0")


def test_v33_arpc_method2(make_provider: MakeProvider) -> None:
    provider = make_provider(_with_halves("sk", SK_AC))
    arpc = arpc_method2_under(provider, _split(provider, "sk"), H("1234567890ABCDEF"),
                              H("00000000"))
    assert arpc == H("9308BEBC")


def test_v39_retail_mac(make_provider: MakeProvider) -> None:
    provider = make_provider(_with_halves("k", H("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB")))
    assert retail_mac(provider, _split(provider, "k"), b"hello world") == H("2BC2D9EDE0CF31F6")


V62_DLK = H("374598b5c0b0eae1e1d06609ac5bb369")
V62_DTK = H("caa6025290114bfcc3c9043f70f7a07a")


def test_v62_load_mac1_mac2(make_provider: MakeProvider) -> None:
    provider = make_provider({"dlk": (TDES, V62_DLK)})
    scheme = PurseScheme(TDES)
    terminal, when = H("000001000050"), H("20140825103100")
    mac1_data = scheme.load_mac1_data(0, 0x1C37, 0x02, terminal)
    mac2_data = scheme.load_mac2_data(0x1C37, 0x02, terminal, when)
    dlk = provider.key("dlk")
    assert purse_load_mac(provider, dlk, H("cdef4f20"), 0, mac1_data) == H("06B1BEF5")
    assert purse_load_mac(provider, dlk, H("cdef4f20"), 0, mac2_data) == H("0641DCD8")


V62_TAC_KEY = H("096F066DE0E6EB86")
#: any 3DES master, and the data it encrypts to V62's DTK (as a card's diversification data)
V62_MASTER = H("0123456789ABCDEFFEDCBA9876543210")


def test_v62_tac_key_and_load_tac(make_provider: MakeProvider) -> None:
    """The 3DES purse's TAC key is the XOR of the DTK's halves, made where the master is
    (a token: the DTK through one zeroed buffer, the key a session object; docs/hsm.md);
    the card log's load TAC follows."""
    from apdu_specs.crypto.ciphers import BlockCipher

    data = BlockCipher(TDES, V62_MASTER).decrypt_ecb(V62_DTK)
    provider = make_provider({"purse_tac": (TDES, V62_MASTER)})
    tac_key = provider.derive_folded(provider.key("purse_tac"), data)
    assert provider.kcv(tac_key) == kcv(DES, V62_TAC_KEY)
    scheme = PurseScheme(TDES)
    tac_data = scheme.load_tac_data(0x1C37, 0, 0x1C37, 0x02, H("000001000050"),
                                    H("20140825103100"))
    assert purse_tac_under(provider, tac_key, tac_data) == H("ED0F8755")
    provider.discard(tac_key)


@pytest.mark.parametrize("identity", ["1234567890123456", "6200000000000001"])
def test_3des_purse_tac_matches_the_card_keys(make_provider: MakeProvider, identity: str) -> None:
    """The 3DES suite's TAC, made through each provider, is the card's TAC, on every purse."""
    from host.points.keys import diversify_purse_key

    provider = make_provider({"purse_tac": (TDES, V62_MASTER)})
    scheme = PurseScheme(TDES)
    for purse in Purse:
        data = scheme.purchase_tac_data(150 * purse, 0x06, H("112233445566"), 7,
                                        H("20260102030405"))
        dtk = diversify_purse_key(V62_MASTER, identity, purse, TDES)
        tac = purse_tac(provider, provider.key("purse_tac"), identity, purse, data)
        assert tac == scheme.mac(scheme.tac_key(dtk), data)


def test_aes_purse_tac_matches_the_card_keys(make_provider: MakeProvider) -> None:
    """The AES suite's TAC, derived and MACed in the provider, is the card's TAC."""
    from host.points.keys import diversify_purse_key

    master = H("00112233445566778899aabbccddeeff")
    provider = make_provider({"purse_tac": (AES, master)})
    scheme = PurseScheme(AES)
    data = scheme.purchase_tac_data(150, 0x06, H("112233445566"), 7, H("20260102030405"))
    dtk = diversify_purse_key(master, "1234567890123456", Purse(1), AES)
    tac = purse_tac(provider, provider.key("purse_tac"), "1234567890123456", Purse(1), data)
    assert tac == scheme.mac(dtk, data)
