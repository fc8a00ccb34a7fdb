"""Personalisation of the purse by DGI, as the security domain's STORE DATA delivers it."""

from __future__ import annotations

import pytest

from apdu_specs.commands.purse_data import (
    DGI,
    KEY_DGI,
    PURSE_AID,
    PURSE_DGI,
    KeyKind,
    Purse,
    build_layout,
    key_dgi,
    purse_dgi,
)
from apdu_specs.sw import SWError
from cardlib.card import DualChipCard
from cardlib.chip import Chip
from cardlib.purse import install_purse
from host.points import PointsClient, PointsError, PurseProfile, purse_perso_dgis
from host.transport.sim import SimTransport
from simulator.card import SimulatedCard

from .purse_helpers import IDENTITY, TERMINAL, applet, connect, issuer_keys, make_card


def personalize(card: SimulatedCard, dgi: int, data: bytes) -> int:
    """Apply one DGI in a transaction, as STORE DATA would; the SW it fails with, or 9000."""
    try:
        with card.card.chip2.memory.transaction():
            applet(card).personalize(dgi, data)
    except SWError as exc:
        return exc.sw
    return 0x9000


def purse_fields(**changes):
    return build_layout(PURSE_DGI, {"algorithm_id": 0x80, "max_balance": 100, "balance": 0,
                                    "options": 0, **changes}, "purse DGI")


def test_profiles_set_ceilings_and_opening_balances():
    card = make_card(profiles={
        Purse.CONSUMPTION: PurseProfile(max_balance=500, initial_balance=120),
        Purse.CREDIT: PurseProfile()})
    client = connect(card)
    assert client.balances() == {Purse.CONSUMPTION: 120, Purse.CREDIT: 0}
    assert applet(card).purse(Purse.CONSUMPTION).params.max_balance == 500


def test_state_dgis_are_accepted_once():
    card = make_card(profiles={Purse.CONSUMPTION: PurseProfile()})
    dgis = dict(purse_perso_dgis(IDENTITY, issuer_keys()))
    assert personalize(card, DGI.APPLICATION, dgis[DGI.APPLICATION]) == 0x6985
    assert personalize(card, purse_dgi(Purse.CONSUMPTION), purse_fields()) == 0x6985
    assert personalize(card, purse_dgi(Purse.BANK), purse_fields()) == 0x9000


@pytest.mark.parametrize(("dgi", "data", "sw"), [
    (0x0F01, b"", 0x6A88),
    (purse_dgi(Purse.BANK), purse_fields()[:-1], 0x6A80),
    (purse_dgi(Purse.BANK), purse_fields() + b"\x00", 0x6A80),
    (purse_dgi(Purse.BANK), purse_fields(balance=101), 0x6A80),
    (purse_dgi(Purse.BANK), purse_fields(algorithm_id=0x99), 0x6A80),
    (purse_dgi(Purse.BANK), purse_fields(options=0x02), 0x6A80),
    (key_dgi(Purse.BANK, KeyKind.LOAD), bytes([0, 1]) + bytes(16), 0x6A80),
    (key_dgi(Purse.BANK, KeyKind.LOAD), bytes([1, 1]) + bytes(8), 0x6A80),
    (key_dgi(Purse.BANK, KeyKind.TAC), bytes([1]) + bytes(15), 0x6A80),
    (DGI.PIN, bytes([3]) + bytes.fromhex("12AB"), 0x6A80),
    (DGI.PIN, bytes([0]) + bytes.fromhex("1234"), 0x6A80),
])
def test_malformed_or_unknown_dgis_are_refused(dgi, data, sw):
    card = make_card(profiles={Purse.CONSUMPTION: PurseProfile()})
    assert personalize(card, dgi, data) == sw


@pytest.mark.parametrize(("identity_hex", "limit"), [("1234ABCDFFFFFFFFFFFF", 3),
                                                     ("62000012345678901FFF", 0)])
def test_application_dgi_is_checked(identity_hex, limit):
    chip = Chip("chip2")
    with pytest.raises(SWError) as err:
        install_purse(chip, [(DGI.APPLICATION, bytes.fromhex(identity_hex) + bytes([limit]))])
    assert err.value.sw == 0x6A80
    assert chip.content.record(PURSE_AID) is None  # all or nothing


def test_keys_may_be_replaced_with_a_new_version():
    card = make_card()
    client = connect(card)
    assert client.initialize_for_load(Purse.BANK, 1, TERMINAL).key_version == 1
    keys = issuer_keys().card_keys(IDENTITY, Purse.BANK)
    new = build_layout(KEY_DGI, {"key_index": 1, "key_version": 2, "key": keys.dlk}, "key")
    assert personalize(card, key_dgi(Purse.BANK, KeyKind.LOAD), new) == 0x9000
    assert client.initialize_for_load(Purse.BANK, 1, TERMINAL).key_version == 2


def test_an_unpersonalised_purse_cannot_be_used():
    chip = Chip("chip2")
    install_purse(chip, [])
    card = SimulatedCard(DualChipCard("blank", chip2=chip))
    card.power_on()
    transport = SimTransport(card.chip2)
    transport.connect()
    with pytest.raises(PointsError, match="not personalised"):
        PointsClient(transport).select()


def test_the_purse_marks_itself_personalised_only_with_identity_and_tac_keys():
    chip = Chip("chip2")
    dgis = dict(purse_perso_dgis(IDENTITY, issuer_keys(), profiles={
        Purse.CONSUMPTION: PurseProfile(max_balance=100, initial_balance=0)}))
    without_tac = [(d, v) for d, v in dgis.items() if d != key_dgi(Purse.CONSUMPTION, KeyKind.TAC)]
    purse = install_purse(chip, [])
    chip.content.set_app_state(purse.aid, 0x07)  # as INSTALL leaves it
    with chip.memory.transaction():
        for dgi, data in without_tac:
            purse.personalize(dgi, data)
        purse.end_personalization()
    assert chip.content.record(purse.aid).state == 0x07
    with chip.memory.transaction():
        purse.personalize(key_dgi(Purse.CONSUMPTION, KeyKind.TAC),
                          dgis[key_dgi(Purse.CONSUMPTION, KeyKind.TAC)])
        purse.end_personalization()
    assert chip.content.record(purse.aid).state == 0x0F
