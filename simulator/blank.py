"""Blank simulated cards: both chips fresh from the factory, each with its ISD.

A blank card is in OP_READY on both chips, with the issuer security domain
(``A000000151000000``) holding the GlobalPlatform test keys under KVN FF, ready for
personalisation through ``dualcard gp …``.
"""

from __future__ import annotations

from apdu_specs.crypto.keyset import StaticKeys
from cardlib.card import DualChipCard
from cardlib.security_domain import ISDProfile, Suite, blank_chip

from .card import SimulatedCard

__all__ = ["new_blank_card"]


def new_blank_card(identity: str = "blank", *, suite: Suite | str = Suite.AES,
                   keys: StaticKeys | None = None, profile: ISDProfile | None = None,
                   iin: bytes | None = None) -> SimulatedCard:
    """A powered, blank dual-chip card with an ISD on chip 1 and chip 2."""
    chips = {role: blank_chip(role, suite=suite, keys=keys, profile=profile,
                              card_identity=identity, iin=iin) for role in ("chip1", "chip2")}
    card = DualChipCard(identity, chip1=chips["chip1"], chip2=chips["chip2"])
    sim = SimulatedCard(card)
    sim.power_on()
    return sim
