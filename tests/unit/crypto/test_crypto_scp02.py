"""SCP02 (3DES) against a published session, plus host <-> card round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.apdu import CommandAPDU
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import (
    CryptoError,
    CryptogramError,
    FormatError,
    SecurityLevelError,
    SessionClosedError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.scp02 import (
    SCP02CardHandshake,
    SCP02HostHandshake,
    SCP02InitializeUpdateResponse,
    SCP02Session,
    derive_session_keys,
)

from .scp_helpers import card_verifies

h = bytes.fromhex

# Without a vector ID: osmocom/pysim tests/unittests/test_globalplatform.py (SCP02_Test,
# SCP02_Auth_Test; implementation pySim/global_platform/scp.py, ICV encryption on);
# recomputed here.
KEYS = StaticKeys(
    h("100102030405060708090a0b0c0d0e0f"),
    h("101102030405060708090a0b0c0d0e0f"),
    h("102102030405060708090a0b0c0d0e0f"),
    Algorithm.TDES,
)
HOST_CHALLENGE = h("40A62C37FA6304F8")
INIT_UPDATE = h("805020000840A62C37FA6304F800")
INIT_UPDATE_RESPONSE = h("00000000000000000000700200016B4524ABEE7CF32EA3838BC148F3")
EXT_AUTH = h("8482010010BA6961667737C5BCEBECE14C7D6A4376")
CASES = [
    (h("80F22002"), h("84F220020814DB34FA4341DCA8")),
    (h("80ca006600"), h("84CA00660855ED7C5FF069512B00")),
    (h("80F220020a4f0212345c054f9f70c5"), h("84F22002124F0212345C054F9F70C58FC1B380C4228AF8")),
    (h("80f28002024f0000"), h("84F280020A4F003B95F09317DE6A4E00")),
]


def _open(level: int = 0x01) -> tuple[SCP02Session, SCP02Session]:
    host = SCP02HostHandshake(KEYS, kvn=0x20, host_challenge=HOST_CHALLENGE)
    card = SCP02CardHandshake(
        KEYS, kdd=bytes(10), kvn=0x70, sequence_counter=1, card_challenge=h("6B4524ABEE7C")
    )
    response = card.respond_initialize_update(HOST_CHALLENGE)
    host.process_initialize_update_response(response)
    apdu, host_session = host.external_authenticate(level)
    return host_session, card_verifies(card, apdu)


def test_published_session_both_ends() -> None:
    host = SCP02HostHandshake(KEYS, kvn=0x20, host_challenge=HOST_CHALLENGE)
    assert host.initialize_update_command() == INIT_UPDATE
    parsed = host.process_initialize_update_response(INIT_UPDATE_RESPONSE)
    assert parsed.sequence_counter == 1 and parsed.kvn == 0x70
    assert parsed.encode() == INIT_UPDATE_RESPONSE
    apdu, host_session = host.external_authenticate(0x01)
    assert apdu == EXT_AUTH

    card = SCP02CardHandshake(
        KEYS, kdd=bytes(10), kvn=0x70, sequence_counter=1, card_challenge=h("6B4524ABEE7C")
    )
    assert card.respond_initialize_update(HOST_CHALLENGE) == INIT_UPDATE_RESPONSE
    card_session = card_verifies(card, EXT_AUTH)
    for plain, wrapped in CASES:
        assert host_session.wrap_command(plain) == wrapped
        assert card_session.unwrap_command(wrapped) == plain
    assert host_session.icv == card_session.icv


def test_wrong_card_cryptogram() -> None:
    host = SCP02HostHandshake(KEYS, host_challenge=HOST_CHALLENGE)
    with pytest.raises(CryptogramError):
        host.process_initialize_update_response(INIT_UPDATE_RESPONSE[:-1] + b"\xff")


@settings(max_examples=40, deadline=None)
@given(
    level=st.sampled_from([0x00, 0x01, 0x03]),
    commands=st.lists(
        st.builds(
            CommandAPDU,
            cla=st.sampled_from([0x00, 0x80, 0x81]),
            ins=st.integers(0, 255),
            p1=st.integers(0, 255),
            p2=st.integers(0, 255),
            data=st.binary(max_size=200),
            ne=st.none() | st.just(256),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_round_trip(level: int, commands: list[CommandAPDU]) -> None:
    host, card = _open(level)
    for cmd in commands:
        assert card.unwrap_command(host.wrap_command(cmd.encode())) == cmd.encode()
        assert host.unwrap_response(card.wrap_response(b"\x01\x90\x00")) == b"\x01\x90\x00"


@settings(max_examples=40, deadline=None)
@given(
    level=st.sampled_from([0x01, 0x03]),
    data=st.binary(max_size=100),
    position=st.integers(1, 10_000),
    delta=st.integers(1, 255),
)
def test_tampering_rejected(level: int, data: bytes, position: int, delta: int) -> None:
    host, card = _open(level)
    wrapped = bytearray(host.wrap_command(CommandAPDU(0x80, 0xE2, 0, 0, data).encode()))
    wrapped[1 + position % (len(wrapped) - 1)] ^= delta
    with pytest.raises(CryptoError):
        card.unwrap_command(bytes(wrapped))


def test_session_closes_after_failure_and_levels_checked() -> None:
    host, card = _open(0x01)
    wrapped = bytearray(host.wrap_command(h("80CA006600")))
    wrapped[-2] ^= 1
    with pytest.raises(CryptoError):
        card.unwrap_command(bytes(wrapped))
    with pytest.raises(SessionClosedError):
        card.unwrap_command(bytes(wrapped))
    with pytest.raises(SecurityLevelError):
        _open(0x11)


def test_malformed_and_unsupported() -> None:
    with pytest.raises(FormatError):
        SCP02InitializeUpdateResponse.parse(INIT_UPDATE_RESPONSE[:-1])
    with pytest.raises(FormatError):
        SCP02InitializeUpdateResponse.parse(INIT_UPDATE_RESPONSE[:11] + b"\x03" + bytes(16))
    with pytest.raises(UnsupportedAlgorithmError):
        derive_session_keys(StaticKeys(bytes(16), bytes(16), bytes(16)), 1)
    with pytest.raises(FormatError):
        derive_session_keys(KEYS, 0x10000)
    assert "1001" not in repr(derive_session_keys(KEYS, 1))
