"""Personalised simulated cards for the payment tests (factory install, no security domain)."""

from __future__ import annotations

from dataclasses import replace

import cardlib.payment  # noqa: F401  (registers the payment load file)
from apdu_specs.payment.cryptogram import TDES_CVN, IssuerMasterKeys
from cardlib.payment import install_payment
from host.payment.keys import IssuerKeys
from host.payment.perso import card_personalisation
from host.payment.profile import ApplicationProfile, Product
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport
from simulator.card import SimulatedCard

h = bytes.fromhex

# Issuer master keys of the published HSM-checked chain (knovichikhin/pyemv
# tests/test_cvn_hsm.py, Visa CVN 22 case): IMK-AC, IMK-SMI, IMK-SMC.
VECTOR_IMK = IssuerMasterKeys(h("0123456789ABCDEFFEDCBA9876543210"),
                              h("FEDCBA98765432100123456789ABCDEF"),
                              h("89ABCDEF0123456776543210FEDCBA98"))
# CVK and PVK of the published CVV/PVV examples (domain-facts §6.4/6.5).
CVK = h("0123456789ABCDEFFEDCBA9876543210")
PVK = h("0123456789ABCDEFFEDCBA9876543210")
KEYS = IssuerKeys(VECTOR_IMK, CVK, PVK)

DEBIT = ApplicationProfile(Product.DEBIT, "6200000000000005", "3012", "ZHANG/SAN",
                           offline_limit=20_000, pin="1234")
CREDIT = ApplicationProfile(Product.CREDIT, "6200000000000013", "3012", "ZHANG/SAN",
                            credit_limit=1_000_000, priority=2, pin="1234")


def personalised_card(*profiles: ApplicationProfile, keys: IssuerKeys = KEYS) -> SimulatedCard:
    card = SimulatedCard()
    install_payment(card.card.chip1.content, card_personalisation(profiles or (DEBIT, CREDIT), keys))
    card.power_on()
    return card


def chip1(card: SimulatedCard) -> T0Transport:
    transport = T0Transport(SimTransport(card.chip1, "sim#chip1"))
    transport.connect()
    return transport


def tdes(profile: ApplicationProfile, **changes: object) -> ApplicationProfile:
    return replace(profile, cvn=TDES_CVN, **changes)
