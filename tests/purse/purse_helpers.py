"""Shared set-up of the purse tests: issuer keys per suite, personalised simulated cards."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Mapping

from apdu_specs.commands.purse_data import PURSE_AID, Purse
from apdu_specs.crypto.ciphers import Algorithm
from cardlib.card import DualChipCard
from cardlib.chip import Chip
from cardlib.purse import PointsPurseApplet, install_purse
from cardlib.purse.state import PurseState
from host.points import (
    LoadHost,
    PointsClient,
    PurseIssuerKeys,
    PurseKeySource,
    PurseProfile,
    SoftwarePurchaseSAM,
    purse_perso_dgis,
)
from host.transport.sim import SimTransport
from simulator.card import SimulatedCard

IDENTITY = "6200001234567890"
TERMINAL = bytes.fromhex("000001000050")
WHEN = dt.datetime(2024, 5, 1, 12, 30, 0)
SUITES = (Algorithm.TDES, Algorithm.AES, Algorithm.SM4)


def issuer_keys(algorithm: Algorithm = Algorithm.AES) -> PurseIssuerKeys:
    """Test master keys (never used outside tests)."""
    return PurseIssuerKeys(algorithm,
                           bytes.fromhex("11223344556677888877665544332211"),
                           bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
                           bytes.fromhex("A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8"))


def counting_random() -> Callable[[int], bytes]:
    """A deterministic card random: 00000001, 00000002, … (reproducible snapshots)."""
    counter = itertools.count(1)
    return lambda n: next(counter).to_bytes(n, "big")


def make_card(keys: PurseKeySource | None = None, *, identity: str = IDENTITY,
              profiles: Mapping[Purse, PurseProfile] | None = None, pin: str | None = None,
              mac_try_limit: int = 3,
              random: Callable[[int], bytes] | None = None) -> SimulatedCard:
    """A simulated card whose chip 2 carries a personalised points purse, powered on."""
    keys = keys or issuer_keys()
    chip2 = Chip("chip2", random=random or counting_random())
    card = SimulatedCard(DualChipCard(identity, chip2=chip2))
    install_purse(chip2, purse_perso_dgis(identity, keys, profiles=profiles, pin=pin,
                                          mac_try_limit=mac_try_limit))
    card.power_on()
    return card


def connect(card: SimulatedCard) -> PointsClient:
    transport = SimTransport(card.chip2, "sim:test#chip2")
    transport.connect()
    return PointsClient(transport)


def applet(card: SimulatedCard) -> PointsPurseApplet:
    inst = card.card.chip2.content.instance(PURSE_AID)
    assert isinstance(inst, PointsPurseApplet)
    return inst


def purse_state(card: SimulatedCard, purse: Purse) -> PurseState:
    return applet(card).purse(purse)


def purse_memory(card: SimulatedCard) -> dict:
    """The committed memory of the purse application (what survives power loss)."""
    prefix = "app/" + PURSE_AID.hex().upper() + "/"
    return {k: v for k, v in card.card.chip2.memory.snapshot().items() if k.startswith(prefix)}


def actors(keys: PurseKeySource | None = None) -> tuple[LoadHost, SoftwarePurchaseSAM]:
    keys = keys or issuer_keys()
    return LoadHost(keys), SoftwarePurchaseSAM(keys, TERMINAL)


def sw_of(raw: bytes) -> int:
    return int.from_bytes(raw[-2:], "big")
