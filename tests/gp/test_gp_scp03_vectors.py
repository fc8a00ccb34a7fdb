"""Published SCP03 sessions replayed through the host session and the simulated ISD.

Source of every value below: osmocom/pysim tests/unittests/test_globalplatform.py
(implementation pySim/global_platform/scp.py), as collected in the shared vector file
(entries V1, V2, V3). Keys 00..0F / 10..1F / 20..2F, KVN 30, i=70, KDD all zeros. The
card challenges are pseudo-random: they come out of the sequence counter and the
eUICC ISD-R AID A0000005591010FFFFFFFF8900000100 (checked by computation, vector V11), so
a simulated ISD configured with that AID, those keys and that counter answers
INITIALIZE UPDATE exactly as the recorded card did.
"""

from __future__ import annotations

import pytest

from apdu_specs.crypto.keyset import StaticKeys
from cardlib.card import DualChipCard
from cardlib.security_domain import CardIdentity, install_isd
from host.gp import ChannelOptions, GPClient, KeySpec, MasterKeys
from simulator.card import SimulatedCard

from .gp_helpers import sw_of, transport

ISD_R = bytes.fromhex("A0000005591010FFFFFFFF8900000100")
ENC = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
MAC = bytes.fromhex("101112131415161718191a1b1c1d1e1f")
DEK = bytes.fromhex("202122232425262728292a2b2c2d2e2f")

PLAIN_GET_EID = "80E2910006BF3E035C015A00"
PLAIN_CASES = ("80F22002", "80ca006600", "80F220020a4f0212345c054f9f70c5", "80f28002024f0000")

VECTORS = {
    "V1 level 11": dict(
        level=0x11, counter=2, host_challenge="b13e5f938fc108c4",
        init_update="8050300008b13e5f938fc108c400",
        init_update_response="000000000000000000003003703eb51047495b249f66c484c1d2ef1948000002",
        ext_auth="84821100107d5f5826a993ebc89eea24957fa0b3ce",
        wrapped_get_eid="84e291000ebf3e035c015a558d036518a2829700",
        get_eid_response="bf3e125a1089882119900000000000000000000005971be68992dbbdfa9000",
        wrapped=("84f220020863a63f8959827fb2", "84ca006608a0c6a4a74166f7ce00",
                 "84f22002124f0212345c054f9f70c52249b50272656536",
                 "84f280020a4f00e91443f6dce6b8ed00")),
    "V2 level 03": dict(
        level=0x03, counter=1, host_challenge="8e1552d0513c60f3",
        init_update="80503000088e1552d0513c60f300",
        init_update_response="0000000000000000000030037030760cd2c47c1dd395065fe5ead8a9d7000001",
        ext_auth="8482030010fd4721a14d9b07003c451d2f8ae6bb21",
        wrapped_get_eid="84e2910018ca9c00f6713d79bc8baa642bdff51c3f6a4082d3bd9ad26c00",
        get_eid_response="bf3e125a10898821199000000000000000000000059000",
        wrapped=("84f2200208c9811b11f1264cf1", "84ca006608e10ab60b3054798800",
                 "84f22002184e2908bdb48b2315a55482e9e936ca122d6ecfae7d17416e",
                 "84f28002180dd10a6b6193e5340b9e77d32d5a179cd710ac2773aefb2800")),
    "V3 level 33": dict(
        level=0x33, counter=3, host_challenge="fdf38259a1e0de44",
        init_update="8050300008fdf38259a1e0de4400",
        init_update_response="000000000000000000003003703b1aca81e821f219081cdc01c26b372d000003",
        ext_auth="84823300108c36f96bcc00724a4e13ad591d7da3f0",
        wrapped_get_eid="84e2910018267a85dfe4a98fca6fb0527e0dfecce4914e40401433c87f00",
        get_eid_response="f3ba2b1013aa6224f5e1c138d71805c569e5439b47576260b75fc021b25097cb"
                         "2e68f8a0144975b99000",
        wrapped=("84f2200208ac6a59024bed84cc", "84ca006608409912ad8fb7aed000",
                 "84f22002185f3dafc3ac14c381536a488bf44e06d056df9d74dbd21e5a",
                 "84f280021865165105be3373347d0424d4400af2ac393f569ec779389e00")),
}
UNWRAPPED_GET_EID = bytes.fromhex("bf3e125a1089882119900000000000000000000005")


def vector_card(counter: int) -> SimulatedCard:
    """The recorded card, as far as the handshake shows it: keys, KVN 30, AID, counter, KDD 0."""
    card = DualChipCard("pysim")
    install_isd(card.chip1, keys=StaticKeys(ENC, MAC, DEK), kvn=0x30, aid=ISD_R,
                identity=CardIdentity(bytes(42), bytes(10)), sequence_counter=counter)
    sim = SimulatedCard(card)
    sim.power_on()
    return sim


def vector_keys() -> KeySpec:
    return KeySpec(MasterKeys(ENC, MAC, DEK), source="test vector")


@pytest.mark.parametrize("name", VECTORS)
def test_gp_handshake_reproduces_the_recorded_session(name: str) -> None:
    v = VECTORS[name]
    card = vector_card(v["counter"])
    t = transport(card)
    gp = GPClient(t, isd_aid=ISD_R)
    gp.select()
    t.log.clear()
    channel = gp.open_secure_channel(vector_keys(), ChannelOptions(level=v["level"], kvn=0x30),
                                     host_challenge=bytes.fromhex(v["host_challenge"]))
    (init_cmd, init_rsp), (ea_cmd, ea_rsp) = t.log
    assert init_cmd.hex() == v["init_update"]
    assert init_rsp.hex() == v["init_update_response"] + "9000"  # the card side, byte for byte
    assert ea_cmd.hex() == v["ext_auth"]
    assert sw_of(ea_rsp) == 0x9000
    assert channel.sequence_counter == v["counter"]
    isd = card.chip1.chip.content.instance(ISD_R)
    assert isd.keystore.sequence_counter == v["counter"] + 1


@pytest.mark.parametrize("name", VECTORS)
def test_gp_host_wrapping_matches_and_card_accepts_every_mac(name: str) -> None:
    v = VECTORS[name]
    card = vector_card(v["counter"])
    t = transport(card)
    gp = GPClient(t, isd_aid=ISD_R)
    gp.select()
    channel = gp.open_secure_channel(vector_keys(), ChannelOptions(level=v["level"], kvn=0x30),
                                     host_challenge=bytes.fromhex(v["host_challenge"]))
    wrapped = channel.wrap(bytes.fromhex(PLAIN_GET_EID))
    assert wrapped.hex() == v["wrapped_get_eid"]
    assert channel.unwrap(bytes.fromhex(v["get_eid_response"])) == UNWRAPPED_GET_EID + b"\x90\x00"
    answer = t.transmit(wrapped)  # the ISD does not store BF3E: an error SW, not a MAC failure
    assert sw_of(answer) == 0x6A88
    for plain, expected in zip(PLAIN_CASES, v["wrapped"], strict=True):
        command = channel.wrap(bytes.fromhex(plain))
        assert command.hex() == expected
        answer = t.transmit(command)
        assert sw_of(answer) != 0x6982, f"card refused the MAC of {plain}"
        channel.unwrap(answer)  # R-MAC / R-ENC of the card's real answer verify
    assert card.chip1.internal_errors == []


def test_gp_card_answer_to_get_data_66_is_rmac_protected_and_verifiable() -> None:
    v = VECTORS["V3 level 33"]
    card = vector_card(v["counter"])
    t = transport(card)
    gp = GPClient(t, isd_aid=ISD_R)
    gp.select()
    gp.open_secure_channel(vector_keys(), ChannelOptions(level=0x33, kvn=0x30),
                           host_challenge=bytes.fromhex(v["host_challenge"]))
    t.log.clear()
    recognition = gp.card_recognition()
    assert recognition is not None and (recognition.scp, recognition.i_parameter) == (3, 0x70)
    (_, raw), = t.log
    assert b"\x2a\x86\x48\x86\xfc\x6b" not in raw  # R-ENC: the OID is not in clear
    assert len(raw) - 2 - 8 == 64  # 51 bytes padded to 4 blocks, plus the 8-byte R-MAC

