"""SCP03 against published full sessions: both the host and the card end reproduce them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.kdf import counter_kdf, scp03_kdf
from apdu_specs.crypto.scp03 import (
    CardHandshake,
    HostHandshake,
    InitializeUpdateResponse,
    SecurityLevel,
    StaticKeys,
    card_cryptogram,
    derive_session_keys,
    host_cryptogram,
    pseudo_random_card_challenge,
)

from .scp_helpers import card_verifies

h = bytes.fromhex

# Key sets of osmocom/pysim tests/unittests/test_globalplatform.py (V1-V3, V13).
KEYS_128 = StaticKeys(
    h("000102030405060708090a0b0c0d0e0f"),
    h("101112131415161718191a1b1c1d1e1f"),
    h("202122232425262728292a2b2c2d2e2f"),
)
KEYS_192 = StaticKeys(
    h("000102030405060708090a0b0c0d0e0f0001020304050607"),
    h("101112131415161718191a1b1c1d1e1f1011121314151617"),
    h("202122232425262728292a2b2c2d2e2f2021222324252627"),
)
KEYS_256 = StaticKeys(
    h("000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f"),
    h("101112131415161718191a1b1c1d1e1f101112131415161718191a1b1c1d1e1f"),
    h("202122232425262728292a2b2c2d2e2f202122232425262728292a2b2c2d2e2f"),
)
# The eUICC ISD-R AID reproduces the pseudo-random card challenges (see V11).
ISD_R_AID = h("A0000005591010FFFFFFFF8900000100")

PLAIN_GET_EID = h("80E2910006BF3E035C015A00")
PLAIN_GET_EID_RESPONSE = h("bf3e125a1089882119900000000000000000000005")
PLAIN_CASES = [
    h("80F22002"),
    h("80ca006600"),
    h("80F220020a4f0212345c054f9f70c5"),
    h("80f28002024f0000"),
]


@dataclass(frozen=True)
class Session:
    """One recorded session: EXT AUTH, GET EID and its response, then case 1-4 commands."""

    name: str
    keys: StaticKeys
    initialize_update: bytes
    initialize_update_response: bytes
    external_authenticate: bytes
    wrapped_get_eid: bytes
    get_eid_response: bytes
    wrapped_cases: tuple[bytes, bytes, bytes, bytes]


SESSIONS = [
    # V1, source: osmocom/pysim tests/unittests/test_globalplatform.py
    # (implementation pySim/global_platform/scp.py); recomputed here.
    Session(
        "V1-AES128-SL11",
        KEYS_128,
        h("8050300008b13e5f938fc108c400"),
        h("000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002"),
        h("84821100107d5f5826a993ebc89eea24957fa0b3ce"),
        h("84e291000ebf3e035c015a558d036518a2829700"),
        h("bf3e125a1089882119900000000000000000000005971be68992dbbdfa"),
        (
            h("84f220020863a63f8959827fb2"),
            h("84ca006608a0c6a4a74166f7ce00"),
            h("84f22002124f0212345c054f9f70c52249b50272656536"),
            h("84f280020a4f00e91443f6dce6b8ed00"),
        ),
    ),
    # V2, same source.
    Session(
        "V2-AES128-SL03",
        KEYS_128,
        h("80503000088e1552d0513c60f300"),
        h("0000000000000000000030037030760cd2c47c1dd395065fe5ead8a9d7000001"),
        h("8482030010fd4721a14d9b07003c451d2f8ae6bb21"),
        h("84e2910018ca9c00f6713d79bc8baa642bdff51c3f6a4082d3bd9ad26c00"),
        h("bf3e125a1089882119900000000000000000000005"),
        (
            h("84f2200208c9811b11f1264cf1"),
            h("84ca006608e10ab60b3054798800"),
            h("84f22002184e2908bdb48b2315a55482e9e936ca122d6ecfae7d17416e"),
            h("84f28002180dd10a6b6193e5340b9e77d32d5a179cd710ac2773aefb2800"),
        ),
    ),
    # V3, same source.
    Session(
        "V3-AES128-SL33",
        KEYS_128,
        h("8050300008fdf38259a1e0de4400"),
        h("000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003"),
        h("84823300108c36f96bcc00724a4e13ad591d7da3f0"),
        h("84e2910018267a85dfe4a98fca6fb0527e0dfecce4914e40401433c87f00"),
        h(
            "f3ba2b1013aa6224f5e1c138d71805c569e5439b47576260b75fc021b25097cb"
            "2e68f8a0144975b9"
        ),
        (
            h("84f2200208ac6a59024bed84cc"),
            h("84ca006608409912ad8fb7aed000"),
            h("84f22002185f3dafc3ac14c381536a488bf44e06d056df9d74dbd21e5a"),
            h("84f280021865165105be3373347d0424d4400af2ac393f569ec779389e00"),
        ),
    ),
    # Without a vector ID: the AES-192 and AES-256 SL 33 sessions of the same pysim test file
    # (SCP03_Test_AES192_33, SCP03_Test_AES256_33); recomputed here.
    Session(
        "pysim-AES192-SL33",
        KEYS_192,
        h("80503100089b3f2eef0e8c937400"),
        h("00000000000000000000310370f6bb305a15bae1a68f79fb08212fbed7000002"),
        h("84823300109100bc22d58b45b86a26365ce39ff3cf"),
        h("84e29100188f7f946c84f70d17994bc6e8791251bb1bb1bf02cf8de58900"),
        h(
            "c05176c1b6f72aae50c32cbee63b0e95998928fd4dfb2be9f27ffde8c8476f59"
            "09b4805cc4039599"
        ),
        (
            h("84f2200208d5d97754b6b3d2ba"),
            h("84ca006608516c82b8e30adbeb00"),
            h("84f2200218cc247f4761e6944277a4e0d6e32e44025b1e31537e2fc668"),
            h("84f2800218ba22b63d509bef5d093b43e5eaed03ed23144ab2d9cb51de00"),
        ),
    ),
    Session(
        "pysim-AES256-SL33",
        KEYS_256,
        h("805032000897b2055fe58599fd00"),
        h("00000000000000000000320370a8439a22cedf045fa9f1903b2834f26e000002"),
        h("8482330010508a0fd959d2e547c6b33154a6be2057"),
        h("84e29100187a5ef717eaf1e135ae92fe54429d0e465decda65f5fe5aea00"),
        h(
            "ea90dbfa648a67c5eb6abc57f8530b97d0cd5647c5e8732016b55203b078dd2a"
            "ce7f8bc5d1c1cd99"
        ),
        (
            h("84f2200208bcc5c17275545d93"),
            h("84ca00660804806aba9d543bb600"),
            h("84f2200218717222491556ec81a45f49ce48be33320024801a1c4cb0e0"),
            h("84f2800218561f105bccd3a1642904b251ccc1228beb80a82370a8637000"),
        ),
    ),
]


def _open_both(session: Session):
    kvn = session.initialize_update[2]
    host_challenge = session.initialize_update[5:-1]
    host = HostHandshake(session.keys, kvn=kvn, host_challenge=host_challenge)
    assert host.initialize_update_command() == session.initialize_update
    response = host.process_initialize_update_response(session.initialize_update_response)
    card = CardHandshake(
        session.keys,
        kdd=response.kdd,
        kvn=response.kvn,
        sequence_counter=response.sequence_counter,
        sd_aid=ISD_R_AID,
        i_parameter=response.i_parameter,
    )
    # The card end regenerates the whole response, pseudo-random challenge included.
    assert card.respond_initialize_update(host_challenge) == session.initialize_update_response
    level = session.external_authenticate[2]
    ext_auth, host_session = host.external_authenticate(level)
    assert ext_auth == session.external_authenticate
    card_session = card_verifies(card, ext_auth)
    return host_session, card_session


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: s.name)
def test_full_session_host_and_card(session: Session) -> None:
    host, card = _open_both(session)

    assert host.wrap_command(PLAIN_GET_EID) == session.wrapped_get_eid
    assert card.unwrap_command(session.wrapped_get_eid) == PLAIN_GET_EID
    assert card.protect_response(PLAIN_GET_EID_RESPONSE, 0x9000) == session.get_eid_response
    assert host.unprotect_response(session.get_eid_response, 0x9000) == PLAIN_GET_EID_RESPONSE

    for plain, wrapped in zip(PLAIN_CASES, session.wrapped_cases, strict=True):
        assert host.wrap_command(plain) == wrapped
        assert card.unwrap_command(wrapped) == plain
    assert host.counter == card.counter == 5
    assert host.mac_chaining_value == card.mac_chaining_value


def test_v1_derived_values() -> None:
    # V1 "derived" and "expected.card_cryptogram" (pysim, recomputed).
    host_challenge, card_challenge = h("b13e5f938fc108c4"), h("3eb51047495b249f")
    keys = derive_session_keys(KEYS_128, host_challenge, card_challenge)
    assert keys.s_enc == h("c4e87149f2114da66bb015a567d751f9")
    assert keys.s_mac == h("8b2635556e987a6b84f43d9ffc197d3f")
    assert keys.s_rmac == h("3f6b2ce3b3abd9a99bd4453afa54cc7b")
    assert card_cryptogram(keys, host_challenge, card_challenge) == h("66c484c1d2ef1948")
    assert host_cryptogram(keys, host_challenge, card_challenge) == h("7d5f5826a993ebc8")


def test_wrapped_response_v1_carries_rmac_after_data() -> None:
    session = SESSIONS[0]
    host, _card = _open_both(session)
    host.wrap_command(PLAIN_GET_EID)
    unwrapped = host.unwrap_response(session.get_eid_response + h("9000"))
    assert unwrapped == PLAIN_GET_EID_RESPONSE + h("9000")


@pytest.mark.parametrize(
    ("counter", "challenge"),
    [
        # V11 (card challenges of the V2, V1 and V3 INITIALIZE UPDATE responses).
        (1, "30760cd2c47c1dd3"),
        (2, "3eb51047495b249f"),
        (3, "3b1aca81e821f219"),
    ],
)
def test_pseudo_random_card_challenge(counter: int, challenge: str) -> None:
    assert pseudo_random_card_challenge(KEYS_128, counter, ISD_R_AID) == h(challenge)


def test_kcv_of_static_keys() -> None:
    # V13: osmocom/pysim tests/unittests/test_globalplatform.py, recomputed.
    assert KEYS_128.kcvs() == (h("C35280"), h("013808"), h("840DE5"))
    assert "C35280" in repr(KEYS_128)
    assert "000102" not in repr(KEYS_128)


def test_session_keys_with_ten_byte_context() -> None:
    # V21: martinpaljak/GlobalPlatformPro TestPlaintextKeys.java, recomputed.
    key = h("404142434445464748494a4b4c4d4e4f")
    context = h("00010203040506070809")
    assert kcv(Algorithm.AES, scp03_kdf(Algorithm.AES, key, 0x04, context, 128)) == h("C25559")
    assert kcv(Algorithm.AES, scp03_kdf(Algorithm.AES, key, 0x06, context, 128)) == h("0E12CC")
    assert kcv(Algorithm.AES, scp03_kdf(Algorithm.AES, key, 0x07, context, 128)) == h("9ACB9C")
    assert kcv(Algorithm.AES, key) == h("504A77")


def test_raw_counter_kdf() -> None:
    # V22: GlobalPlatformPro scp03_kdf(K, a=00*16, b=00*16), recomputed.
    key = h("404142434445464748494a4b4c4d4e4f")
    derived = counter_kdf(Algorithm.AES, key, bytes(16), bytes(16), 16)
    assert kcv(Algorithm.AES, derived) == h("BD8165")


def test_initialize_update_response_round_trip() -> None:
    raw = SESSIONS[0].initialize_update_response
    parsed = InitializeUpdateResponse.parse(raw)
    assert parsed.kvn == 0x30
    assert parsed.i_parameter == 0x70
    assert parsed.sequence_counter == 2
    assert parsed.card_cryptogram == h("66c484c1d2ef1948")
    assert parsed.encode() == raw


def test_security_levels_of_vectors() -> None:
    assert [s.external_authenticate[2] for s in SESSIONS[:3]] == [0x11, 0x03, 0x33]
    assert SecurityLevel(0x33) == (
        SecurityLevel.C_MAC
        | SecurityLevel.C_DECRYPTION
        | SecurityLevel.R_MAC
        | SecurityLevel.R_ENCRYPTION
    )
