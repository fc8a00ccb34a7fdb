"""Wrong keys, refused cryptograms, the failure counter and the key set lock."""

from __future__ import annotations

import pytest

from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.scp03 import (
    HostHandshake,
    SCP03Session,
    SecurityLevel,
    derive_session_keys,
)
from cardlib.security_domain import ISDProfile, factory_keys
from host.gp import AuthenticationError, GPClient, KeySpec, MasterKeys, parse_key_spec
from simulator.errors import CardMute

from .gp_helpers import ISD, blank, client, sw_of, transport, tx

WRONG = KeySpec(MasterKeys.single(bytes(16)), source="zeros")


def isd_of(card):
    return card.chip1.chip.content.instance(ISD)


def forged_external_authenticate(card, *, break_mac: bool, tear_after: int | None = None) -> int:
    """INITIALIZE UPDATE, then EXTERNAL AUTHENTICATE with a wrong cryptogram (right C-MAC)
    or with a wrong C-MAC; returns the card's SW."""
    host = HostHandshake(factory_keys(), host_challenge=bytes(8))
    data, sw = tx(card.chip1, host.initialize_update_command())
    assert sw == 0x9000
    parsed = host.process_initialize_update_response(data)
    keys = derive_session_keys(factory_keys(), bytes(8), parsed.card_challenge)
    bootstrap = SCP03Session(keys, SecurityLevel.C_MAC, parsed.mode, bytes(16))
    cla, body = bootstrap.protect_command(0x80, 0x82, 0x01, 0x00, b"\xee" * 8)
    if break_mac:
        body = body[:-1] + bytes([body[-1] ^ 1])
    if tear_after is not None:
        card.tear(1, tear_after)
    return tx(card.chip1, bytes([cla, 0x82, 0x01, 0x00, len(body)]) + body)[1]


def test_gp_wrong_keys_stop_before_external_authenticate() -> None:
    card = blank()
    gp = GPClient(transport(card))
    gp.select()
    gp.transport.log.clear()
    with pytest.raises(AuthenticationError, match="card cryptogram does not match") as err:
        gp.open_secure_channel(WRONG)
    assert "KCV" in str(err.value) and "00000000" not in str(err.value)
    assert [c[1] for c, _ in gp.transport.log] == [0x50]  # no EXTERNAL AUTHENTICATE sent
    assert isd_of(card).keystore.failures(0xFF) == 0


@pytest.mark.parametrize(("break_mac", "expected"), ((False, 0x6300), (True, 0x6982)))
def test_gp_refused_external_authenticate_counts(break_mac: bool, expected: int) -> None:
    card = blank()
    client(card, keys=None)
    assert forged_external_authenticate(card, break_mac=break_mac) == expected
    assert isd_of(card).keystore.failures(0xFF) == 1
    assert tx(card.chip1, "80F28002024F0000")[1] == 0x6982  # no session came of it


def test_gp_external_authenticate_refused_for_its_form_counts_nothing() -> None:
    """The attempt is counted before the handshake looks at it; one the handshake refuses
    before comparing anything (here: CLA 80, no secure messaging bit) gets its count back."""
    card = blank()
    client(card, keys=None)
    host = HostHandshake(factory_keys(), host_challenge=bytes(8))
    assert tx(card.chip1, host.initialize_update_command())[1] == 0x9000
    assert tx(card.chip1, "8082010010" + "00" * 16)[1] == 0x6700
    assert isd_of(card).keystore.failures(0xFF) == 0


def test_gp_key_set_locks_after_n_failures_and_put_key_unlocks_it() -> None:
    card = blank(profile=ISDProfile(max_auth_failures=3))
    client(card, keys=None)
    for _ in range(3):
        assert forged_external_authenticate(card, break_mac=False) == 0x6300
    assert tx(card.chip1, "8050000008" + "00" * 8 + "00")[1] == 0x6983
    with pytest.raises(AuthenticationError, match="blocked"):
        client(card)  # even the right keys: the key set is locked
    card.power_on()  # a power cycle does not forgive
    with pytest.raises(AuthenticationError, match="blocked"):
        client(card)


def test_gp_success_resets_the_counter() -> None:
    card = blank(profile=ISDProfile(max_auth_failures=3))
    client(card, keys=None)
    for _ in range(2):
        forged_external_authenticate(card, break_mac=False)
    client(card)
    assert isd_of(card).keystore.failures(0xFF) == 0
    for _ in range(2):
        forged_external_authenticate(card, break_mac=True)
    client(card)  # still open: the two failures were not consecutive with the first two


def test_gp_a_tear_cannot_undo_a_recorded_failure() -> None:
    card = blank()
    client(card, keys=None)
    with pytest.raises(CardMute):  # power goes right after the failure count is written
        forged_external_authenticate(card, break_mac=False, tear_after=1)
    card.power_on()
    assert isd_of(card).keystore.failures(0xFF) == 1


def test_gp_sequence_counter_advances_and_survives_power_cycles() -> None:
    card = blank()
    isd = isd_of(card)
    challenges = set()
    for expected in range(3):
        assert isd.keystore.sequence_counter == expected
        gp = client(card)
        challenges.add(gp.transport.log[1][1][13:21])  # card challenge of INITIALIZE UPDATE
        card.power_on()
    assert len(challenges) == 3 and isd.keystore.sequence_counter == 3


def test_gp_unknown_key_version() -> None:
    card = blank()
    with pytest.raises(AuthenticationError, match="no key set 30"):
        client(card, kvn=0x30)


def test_gp_static_keys_repr_shows_kcvs_only() -> None:
    keys = StaticKeys(bytes(range(16)), bytes(range(16)), bytes(range(16)))
    gp = client(blank())
    for shown in (repr(keys), repr(gp.channel), repr(gp.channel.session), repr(WRONG),
                  repr(WRONG.keys)):
        assert "000102030405" not in shown and "404142434445" not in shown
    assert sw_of(gp.transport.log[-1][1]) == 0x9000


def test_gp_card_authentication_alone_proves_the_keys_without_a_session() -> None:
    """INITIALIZE UPDATE alone: the card's cryptogram is checked, no session opens, a session
    open before ends, and neither right nor wrong keys count against the key set."""
    card = blank()
    gp = client(card)  # a session at C-MAC
    details = gp.authenticate_card(parse_key_spec("default"))
    assert details["kvn"] == 0xFF and gp.channel is None
    assert sw_of(gp.transport.transmit(bytes.fromhex("80F28000024F00"))) == 0x6982  # no session
    gp.transport.log.clear()
    with pytest.raises(AuthenticationError, match="card cryptogram does not match"):
        gp.authenticate_card(WRONG)
    assert [c[1] for c, _ in gp.transport.log] == [0x50]
    assert isd_of(card).keystore.failures(0xFF) == 0
    gp.open_secure_channel(parse_key_spec("default"))  # the key set is as usable as before
