"""SCP03 host <-> card round trips at every level, mode and suite, and tamper detection.

No published vectors exist for S16, AES-192/256 at every level or the SM4 variant, so the
host end and the card end check each other; the SM4 construction is also recomputed
independently from ``cryptography`` primitives.
"""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives import cmac as crypto_cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.apdu import CommandAPDU
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import (
    CryptoError,
    CryptogramError,
    DataLengthError,
    FormatError,
    MACError,
    SecureChannelError,
    SecurityLevelError,
    SessionClosedError,
    UnsupportedAlgorithmError,
)
from apdu_specs.crypto.scp03 import (
    SCP03_SECURITY_LEVELS,
    CardHandshake,
    HostHandshake,
    SCP03Mode,
    SCP03Session,
    SecurityLevel,
    StaticKeys,
    derive_session_keys,
)

from .scp_helpers import card_verifies

SD_AID = bytes.fromhex("A000000151000000")
KDD = bytes(range(10))

SUITES = [(Algorithm.AES, 16), (Algorithm.AES, 24), (Algorithm.AES, 32), (Algorithm.SM4, 16)]
PLAIN_CLAS = [0x00, 0x01, 0x03, 0x10, 0x80, 0x81, 0x83, 0x90, 0xA0, 0xB2]
PROTECTED_SWS = [0x9000, 0x6283, 0x63C1]
ERROR_SWS = [0x6A82, 0x6982, 0x6D00]


def _keys(algorithm: Algorithm, length: int, seed: int = 0) -> StaticKeys:
    base = bytes((seed + i) % 256 for i in range(length))
    return StaticKeys(
        base, bytes(b ^ 0x11 for b in base), bytes(b ^ 0x22 for b in base), algorithm
    )


def open_pair(
    algorithm: Algorithm,
    length: int,
    level: int,
    mode: SCP03Mode = SCP03Mode.S8,
    i_parameter: int = 0x70,
) -> tuple[SCP03Session, SCP03Session]:
    """A host session and a card session that completed the handshake together."""
    keys = _keys(algorithm, length)
    i_parameter |= 0x01 if mode is SCP03Mode.S16 else 0x00
    host = HostHandshake(keys, kvn=0x30, mode=mode, random=os.urandom)
    card = CardHandshake(
        keys, kdd=KDD, kvn=0x30, sequence_counter=7, sd_aid=SD_AID, i_parameter=i_parameter
    )
    response = card.respond_initialize_update(host.host_challenge)
    host.process_initialize_update_response(response)
    apdu, host_session = host.external_authenticate(level)
    card_session = card_verifies(card, apdu)
    return host_session, card_session


commands = st.builds(
    CommandAPDU,
    cla=st.sampled_from(PLAIN_CLAS),
    ins=st.integers(0, 255),
    p1=st.integers(0, 255),
    p2=st.integers(0, 255),
    data=st.binary(max_size=200),
    ne=st.none() | st.integers(1, 256),
)
responses = st.tuples(st.binary(max_size=200), st.sampled_from(PROTECTED_SWS + ERROR_SWS))
setups = st.tuples(
    st.sampled_from(SUITES),
    st.sampled_from(sorted(SCP03_SECURITY_LEVELS)),
    st.sampled_from(list(SCP03Mode)),
)


def _expected_plain(cmd: CommandAPDU, level: int) -> bytes:
    if not level & SecurityLevel.C_MAC:
        return cmd.encode()
    return cmd.replace(ne=None if cmd.ne is None else 256).encode()


@settings(max_examples=60, deadline=None)
@given(setup=setups, exchanges=st.lists(st.tuples(commands, responses), min_size=1, max_size=4))
def test_host_wrap_card_unwrap_round_trip(setup, exchanges) -> None:
    (algorithm, length), level, mode = setup
    host, card = open_pair(algorithm, length, level, mode)
    for cmd, (data, sw) in exchanges:
        wrapped = host.wrap_command(cmd.encode())
        assert card.unwrap_command(wrapped) == _expected_plain(cmd, level)
        body = card.protect_response(data, sw)
        unwrapped = host.unprotect_response(body, sw)
        error_with_rmac = level & SecurityLevel.R_MAC and sw in ERROR_SWS
        assert unwrapped == (b"" if error_with_rmac else data)
    assert host.counter == card.counter
    assert host.mac_chaining_value == card.mac_chaining_value


@settings(max_examples=60, deadline=None)
@given(
    setup=setups,
    cmd=commands,
    position=st.integers(0, 10_000),
    delta=st.integers(1, 255),
)
def test_tampered_command_is_rejected(setup, cmd, position, delta) -> None:
    (algorithm, length), level, mode = setup
    level |= SecurityLevel.C_MAC
    if level not in SCP03_SECURITY_LEVELS:
        level = SecurityLevel.C_MAC
    host, card = open_pair(algorithm, length, level, mode)
    wrapped = bytearray(host.wrap_command(cmd.encode()))
    # Everything but the Le byte (never MACed) and the CLA's channel/SM bits is covered.
    covered = len(wrapped) - (0 if cmd.ne is None else 1)
    index = position % covered
    wrapped[index] ^= (delta & 0xF0 or 0x80) if index == 0 else delta
    with pytest.raises(CryptoError):
        card.unwrap_command(bytes(wrapped))


@settings(max_examples=60, deadline=None)
@given(
    setup=setups,
    level=st.sampled_from([0x11, 0x13, 0x33]),
    data=st.binary(max_size=200),
    sw=st.sampled_from(PROTECTED_SWS),
    position=st.integers(0, 10_000),
    delta=st.integers(1, 255),
)
def test_tampered_response_is_rejected(setup, level, data, sw, position, delta) -> None:
    (algorithm, length), _level, mode = setup
    host, card = open_pair(algorithm, length, level, mode)
    card.unwrap_command(host.wrap_command(bytes.fromhex("80CA006600")))
    response = bytearray(card.wrap_response(data + sw.to_bytes(2, "big")))
    response[position % len(response)] ^= delta
    with pytest.raises(CryptoError):
        host.unwrap_response(bytes(response))
    with pytest.raises(SessionClosedError):
        host.unwrap_response(b"\x90\x00")


def test_failed_command_mac_closes_card_session() -> None:
    host, card = open_pair(Algorithm.AES, 16, 0x01)
    wrapped = bytearray(host.wrap_command(bytes.fromhex("80CA9F7F00")))
    wrapped[-2] ^= 1
    with pytest.raises(MACError):
        card.unwrap_command(bytes(wrapped))
    assert not card.is_open
    with pytest.raises(SessionClosedError):
        card.unwrap_command(host.wrap_command(bytes.fromhex("80CA9F7F00")))


def test_unprotected_command_rejected_at_cmac_level() -> None:
    _host, card = open_pair(Algorithm.AES, 16, 0x01)
    with pytest.raises(SecureChannelError):
        card.unwrap_command(bytes.fromhex("80CA9F7F00"))
    assert not card.is_open


def test_level_zero_passes_commands_through() -> None:
    host, card = open_pair(Algorithm.AES, 16, 0x00)
    apdu = bytes.fromhex("80CA9F7F00")
    assert host.wrap_command(apdu) == apdu
    assert card.unwrap_command(apdu) == apdu
    with pytest.raises(SecureChannelError):
        card.unwrap_command(bytes.fromhex("84CA9F7F00"))


def test_error_status_response_is_status_word_alone() -> None:
    host, card = open_pair(Algorithm.AES, 16, 0x33)
    card.unwrap_command(host.wrap_command(bytes.fromhex("80CA9F7F00")))
    assert card.wrap_response(bytes.fromhex("01026A82")) == bytes.fromhex("6A82")
    assert host.unwrap_response(bytes.fromhex("6A82")) == bytes.fromhex("6A82")


@pytest.mark.parametrize("level", [0x02, 0x10, 0x12, 0x20, 0x31, 0x40, 0xFF])
def test_undefined_levels_rejected(level: int) -> None:
    with pytest.raises(SecurityLevelError):
        open_pair(Algorithm.AES, 16, level)


def test_level_needs_announced_response_protection() -> None:
    with pytest.raises(SecurityLevelError):
        open_pair(Algorithm.AES, 16, 0x11, i_parameter=0x10)
    with pytest.raises(SecurityLevelError):
        open_pair(Algorithm.AES, 16, 0x33, i_parameter=0x30)


def test_card_rejects_tampered_external_authenticate() -> None:
    keys = _keys(Algorithm.AES, 16)
    host = HostHandshake(keys, host_challenge=bytes(8))
    card = CardHandshake(keys, kdd=KDD, kvn=0x30, sequence_counter=1, sd_aid=SD_AID)
    host.process_initialize_update_response(card.respond_initialize_update(bytes(8)))
    apdu, _ = host.external_authenticate(0x01)
    tampered = bytearray(apdu)
    tampered[-1] ^= 0x01
    with pytest.raises(MACError):
        card_verifies(card, bytes(tampered))
    with pytest.raises(SecureChannelError):  # the handshake is used up after a failure
        card_verifies(card, apdu)


def test_host_with_wrong_mac_key_rejects_card_cryptogram() -> None:
    keys = _keys(Algorithm.AES, 16)
    card = CardHandshake(keys, kdd=KDD, kvn=0x30, sequence_counter=1, sd_aid=SD_AID)
    response = card.respond_initialize_update(bytes(8))
    wrong = HostHandshake(StaticKeys(keys.enc, bytes(16), keys.dek), host_challenge=bytes(8))
    with pytest.raises(CryptogramError):
        wrong.process_initialize_update_response(response)


def test_card_rejects_wrong_host_cryptogram() -> None:
    keys = _keys(Algorithm.AES, 16)
    card = CardHandshake(keys, kdd=KDD, kvn=0x30, sequence_counter=1, sd_aid=SD_AID)
    response = card.respond_initialize_update(bytes(8))
    host = HostHandshake(keys, host_challenge=bytes(8))
    host.process_initialize_update_response(response)
    apdu, session = host.external_authenticate(0x01)
    # Rebuild EXTERNAL AUTHENTICATE with a wrong cryptogram but a correct C-MAC.
    bootstrap = SCP03Session(session.keys, SecurityLevel.C_MAC, SCP03Mode.S8, bytes(16))
    cla, data = bootstrap.protect_command(0x80, 0x82, 0x01, 0x00, bytes(8))
    forged = CommandAPDU(cla, 0x82, 0x01, 0x00, data).encode()
    assert forged != apdu
    with pytest.raises(CryptogramError):
        card_verifies(card, forged)


def test_host_rejects_wrong_card_cryptogram() -> None:
    keys = _keys(Algorithm.AES, 16)
    card = CardHandshake(keys, kdd=KDD, kvn=0x30, sequence_counter=1, sd_aid=SD_AID)
    response = bytearray(card.respond_initialize_update(bytes(8)))
    response[-4] ^= 0x01  # last cryptogram byte, before the 3-byte counter
    with pytest.raises(CryptogramError):
        HostHandshake(keys, host_challenge=bytes(8)).process_initialize_update_response(
            bytes(response)
        )


def test_external_authenticate_before_initialize_update() -> None:
    host = HostHandshake(_keys(Algorithm.AES, 16))
    with pytest.raises(SecureChannelError):
        host.external_authenticate(0x01)


def test_command_too_long_once_protected() -> None:
    host, _card = open_pair(Algorithm.AES, 16, 0x03)
    apdu = CommandAPDU(0x80, 0xE2, 0x00, 0x00, bytes(240)).encode()
    with pytest.raises(FormatError):
        host.wrap_command(apdu)
    assert host.counter == 0  # nothing consumed


def test_malformed_inputs_raise_typed_errors() -> None:
    host, card = open_pair(Algorithm.AES, 16, 0x33)
    with pytest.raises(FormatError):
        host.wrap_command(b"\x80\xca")
    with pytest.raises(FormatError):
        card.unwrap_command(bytes.fromhex("84CA000005AABB"))
    with pytest.raises(FormatError):
        host.unwrap_response(b"\x90")
    with pytest.raises(FormatError):
        card.protect_response(b"", 0x10000)
    with pytest.raises(FormatError):
        host.wrap_command(bytes.fromhex("C0CA9F7F00"))  # further-interindustry CLA
    with pytest.raises(FormatError):
        host.protect_command(0x80, 0x100, 0, 0, b"")
    assert host.counter == 0  # a rejected command consumes nothing
    with pytest.raises(FormatError):
        host.wrap_command(bytes.fromhex("80CA0000000100"))  # extended: SM protects short APDUs
    with pytest.raises(FormatError):
        HostHandshake(_keys(Algorithm.AES, 16), kvn=256)
    with pytest.raises(FormatError):
        CardHandshake(_keys(Algorithm.AES, 16), kdd=KDD, kvn=1, sequence_counter=1,
                      sd_aid=SD_AID, i_parameter=0x170)
    with pytest.raises(DataLengthError):
        HostHandshake(_keys(Algorithm.AES, 16), host_challenge=bytes(7))
    with pytest.raises(UnsupportedAlgorithmError):
        derive_session_keys(_keys(Algorithm.TDES, 16), bytes(8), bytes(8))


def test_sm4_variant_matches_independent_computation() -> None:
    """Recompute the SM4 session key and EXTERNAL AUTHENTICATE C-MAC with raw ``cryptography``."""

    def sm4_cmac(key: bytes, data: bytes) -> bytes:
        mac = crypto_cmac.CMAC(algorithms.SM4(key))
        mac.update(data)
        return mac.finalize()

    keys = _keys(Algorithm.SM4, 16)
    host_challenge, card_challenge = bytes.fromhex("0102030405060708"), bytes(8)
    card = CardHandshake(
        keys, kdd=KDD, kvn=0x30, sequence_counter=1, sd_aid=SD_AID, card_challenge=card_challenge
    )
    host = HostHandshake(keys, host_challenge=host_challenge)
    host.process_initialize_update_response(card.respond_initialize_update(host_challenge))
    apdu, session = host.external_authenticate(0x33)

    context = host_challenge + card_challenge
    s_mac = sm4_cmac(keys.mac, bytes(11) + b"\x06\x00\x00\x80\x01" + context)
    assert session.keys.s_mac == s_mac
    cryptogram = sm4_cmac(s_mac, bytes(11) + b"\x01\x00\x00\x40\x01" + context)[:8]
    expected_mac = sm4_cmac(s_mac, bytes(16) + bytes.fromhex("8482330010") + cryptogram)
    assert apdu == bytes.fromhex("8482330010") + cryptogram + expected_mac[:8]
    assert session.mac_chaining_value == expected_mac
    assert card_verifies(card, apdu).mac_chaining_value == expected_mac
