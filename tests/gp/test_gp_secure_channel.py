"""Secure channel between the host library and the simulated ISD, in process."""

from __future__ import annotations

import pytest

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.sw import CardError
from cardlib.security_domain import ISDProfile
from host.gp import ChannelOptions, GPClient, ResponseError, Subset, parse_key_spec

from .gp_helpers import ISD, blank, client, sw_of, transport, tx

LEVELS = (0x00, 0x01, 0x03, 0x11, 0x13, 0x33)


@pytest.mark.parametrize("level", LEVELS)
def test_gp_every_security_level_opens_and_carries_commands(level: int) -> None:
    card = blank()
    gp = client(card, level=level)
    assert gp.channel is not None and gp.channel.level == level
    entries = gp.get_status(Subset.ISD)
    assert entries[0].aid == ISD and entries[0].state == 0x01
    assert gp.cplc() is not None and gp.key_information()
    assert card.chip1.internal_errors == []


@pytest.mark.parametrize("level", (0x11, 0x13, 0x33))
def test_gp_response_protection_is_present_and_checked(level: int) -> None:
    card = blank()
    gp = client(card, level=level)
    t = gp.transport
    t.log.clear()
    plain = gp.get_data(0x9F7F)
    (_, raw), = t.log
    assert plain is not None and len(plain) == 42
    protected = raw[:-2]
    if level & 0x20:
        assert plain not in protected and len(protected) == 48 + 8  # 45 bytes → 3 blocks + R-MAC
    else:
        assert protected[3:-8] == plain and len(protected) == 45 + 8
    tampered = raw[:-3] + bytes([raw[-3] ^ 1]) + raw[-2:]
    with pytest.raises(ResponseError, match="R-MAC"):
        gp.channel.unwrap(tampered)


def test_gp_command_encryption_hides_the_data_on_the_wire() -> None:
    card = blank()
    gp = client(card, level=0x03)
    t = gp.transport
    t.log.clear()
    gp.get_status(Subset.LOAD_FILES, aid_prefix=bytes.fromhex("F044435344"))
    (cmd, _), = t.log
    assert cmd[0] == 0x84 and bytes.fromhex("F044435344") not in cmd


def test_gp_s16_card_is_reached_by_the_automatic_retry() -> None:
    card = blank(profile=ISDProfile(i_parameter=0x71))
    gp = GPClient(transport(card))
    gp.select()
    gp.transport.log.clear()
    channel = gp.open_secure_channel(parse_key_spec("default"), ChannelOptions(level=0x33))
    first, second, _ = gp.transport.log
    assert sw_of(first[1]) == 0x6700 and len(second[0]) == 5 + 16 + 1
    assert channel.session.mode == 16
    assert gp.get_status(Subset.ISD)[0].aid == ISD


def test_gp_sm4_suite() -> None:
    card = blank(suite="SM4")
    gp = client(card, level=0x33, algorithm=Algorithm.SM4)
    assert gp.channel.algorithm is Algorithm.SM4
    assert gp.get_status(Subset.ISD)[0].aid == ISD
    key_info = gp.key_information()
    assert {k.key_type for k in key_info} == {0x70}


def test_gp_aes_keys_do_not_open_an_sm4_card() -> None:
    from host.gp import AuthenticationError

    card = blank(suite="SM4")
    with pytest.raises(AuthenticationError):
        client(card)


def test_gp_scp02_suite() -> None:
    card = blank(suite="3DES")
    gp = client(card, level=0x03)
    assert gp.channel.scp == 2 and gp.channel.algorithm is Algorithm.TDES
    assert gp.get_status(Subset.ISD)[0].aid == ISD


def test_gp_bad_cmac_aborts_the_session() -> None:
    card = blank()
    gp = client(card)
    raw = gp.channel.wrap(bytes.fromhex("80F28002024F0000"))
    forged = raw[:-2] + bytes([raw[-2] ^ 0x01]) + raw[-1:]
    assert sw_of(gp.transport.transmit(forged)) == 0x6982
    # the card dropped to "not authenticated": even a correctly MACed command is refused now
    again = gp.channel.wrap(bytes.fromhex("80F28002024F0000"))
    assert sw_of(gp.transport.transmit(again)) == 0x6982
    assert tx(card.chip1, "80F28002024F0000")[1] == 0x6982


def test_gp_plain_command_in_a_mac_session_aborts_it_but_get_data_passes() -> None:
    card = blank()
    gp = client(card)
    assert tx(card.chip1, "80CA9F7F00")[1] == 0x9000  # needs no security: session untouched
    gp.get_status(Subset.ISD)
    assert tx(card.chip1, "80F28002024F0000")[1] == 0x6982
    with pytest.raises(CardError) as err:
        gp.get_status(Subset.ISD)
    assert err.value.sw == 0x6982


def test_gp_level_00_authenticates_but_management_needs_cmac() -> None:
    card = blank()
    gp = client(card, level=0x00)
    assert gp.get_status(Subset.ISD)[0].aid == ISD  # GET STATUS: any authenticated session
    with pytest.raises(CardError) as err:
        gp.set_card_status(0x07)
    assert err.value.sw == 0x6982


def test_gp_without_session_management_is_refused() -> None:
    card = blank()
    client(card, keys=None)
    for apdu in ("80F28002024F0000", "80F0800700", "80E40000094F07F000000001020100"):
        assert tx(card.chip1, apdu)[1] == 0x6982, apdu


def test_gp_reset_and_reselect_drop_the_session() -> None:
    card = blank()
    gp = client(card)
    card.chip1.reset()
    assert tx(card.chip1, gp.channel.wrap(bytes.fromhex("80F28002024F0000")))[1] == 0x6982
    gp = client(card)
    gp.select()
    assert tx(card.chip1, "80F28002024F0000")[1] == 0x6982


def test_gp_sessions_are_per_logical_channel() -> None:
    card = blank()
    rt = card.chip1
    gp0 = client(card)
    data, sw = tx(rt, "0070000001")
    assert (data, sw) == (b"\x01", 0x9000)
    gp1 = GPClient(gp0.transport)
    gp1.channel = None
    assert tx(rt, "01A4040008" + ISD.hex() + "00")[1] == 0x9000
    gp1.open_secure_channel(parse_key_spec("default"), ChannelOptions(level=0x01, channel=1))
    on_channel_1 = gp1.channel.wrap(bytes.fromhex("81F28002024F0000"))
    assert tx(rt, on_channel_1)[1] == 0x9000
    assert tx(rt, gp0.channel.wrap(bytes.fromhex("80F28002024F0000")))[1] == 0x9000
    assert tx(rt, "81F28002024F0000")[1] == 0x6982  # channel 1 aborted …
    assert tx(rt, gp0.channel.wrap(bytes.fromhex("80F28002024F0000")))[1] == 0x9000  # … not 0


def test_gp_external_authenticate_without_initialize_update() -> None:
    card = blank()
    client(card, keys=None)
    assert tx(card.chip1, "84820100100000000000000000" + "00" * 8)[1] == 0x6985


def test_gp_unsupported_level_and_wrong_challenge_length() -> None:
    card = blank()
    client(card, keys=None)
    assert tx(card.chip1, "805000000711223344556677" + "00")[1] == 0x6700
    assert tx(card.chip1, "8050000008" + "11" * 8 + "00")[1] == 0x9000
    assert tx(card.chip1, "84822100100000000000000000" + "00" * 8)[1] == 0x6A86


def test_gp_interindustry_secure_messaging_is_not_offered() -> None:
    card = blank()
    client(card, keys=None)
    assert tx(card.chip1, "0CCA9F7F00")[1] == 0x6882
