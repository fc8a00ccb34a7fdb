"""The sample card the fixtures hand out, and how it is personalised.

The sample card is a whole dual-chip card as an issuer would ship it: chip 1 with the
payment directory and a debit and a credit application, chip 2 with the three points
purses. It is personalised the way a card is, through each chip's issuer security
domain (INSTALL, STORE DATA, SET STATUS under SCP03) — the *minimal personalisation*:
applications installed and personalised, the security domains keeping the
GlobalPlatform test key (KVN FF) and the card life cycle OP_READY, so tests may still
open a secure channel with ``default`` keys. Every key here is a test key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.payment.cryptogram import IssuerMasterKeys
from host.gp import DGI, ChannelOptions, GPClient, KeySpec, parse_key_spec
from host.payment.keys import IssuerKeys
from host.payment.perso import card_personalisation
from host.payment.profile import ApplicationProfile, Product
from host.points import PurseIssuerKeys, purse_perso_dgis
from host.transport.base import Transport
from host.transport.sim import SimTransport
from host.transport.t0 import T0Transport

from . import _simulator

if TYPE_CHECKING:
    from simulator.card import SimulatedCard

__all__ = ["SAMPLE", "SampleCard", "personalise", "sample_card"]

h = bytes.fromhex

_PAYMENT_LOAD_FILE = h("F00000000101")
_PAYMENT_DIRECTORY_MODULE = h("F0000000010181")
_PAYMENT_APPLICATION_MODULE = h("F0000000010180")
_PURSE_LOAD_FILE, _PURSE_MODULE, _PURSE_AID = h("F000000002"), h("F00000000201"), h("F0000000020101")
_DIRECTORY_NAMES = (b"1PAY.SYS.DDF01", b"2PAY.SYS.DDF01")
#: GP application-specific life cycle state "personalised" (GPC 2.3 §5.3.1)
_PERSONALIZED = 0x0F
#: C-MAC and C-DECRYPTION, so that secret DGIs travel encrypted
_LEVEL = 0x03


#: the sample card's applications and test issuer keys (public test values, never real keys):
#: the EMV issuer master keys are those of the published HSM-checked chain the payment tests
#: replay (knovichikhin/pyemv tests/test_cvn_hsm.py), CVK/PVK those of domain-facts §6.4/6.5
SAMPLE_DEBIT = ApplicationProfile(Product.DEBIT, "6200000000000005", "3012", "ZHANG/SAN",
                                  offline_limit=20_000, pin="1234")
SAMPLE_CREDIT = ApplicationProfile(Product.CREDIT, "6200000000000013", "3012", "ZHANG/SAN",
                                   credit_limit=1_000_000, priority=2, pin="1234")
SAMPLE_PAYMENT_KEYS = IssuerKeys(
    IssuerMasterKeys(h("0123456789ABCDEFFEDCBA9876543210"), h("FEDCBA98765432100123456789ABCDEF"),
                     h("89ABCDEF0123456776543210FEDCBA98")),
    h("0123456789ABCDEFFEDCBA9876543210"), h("0123456789ABCDEFFEDCBA9876543210"))
SAMPLE_PURSE_KEYS = PurseIssuerKeys(
    Algorithm.AES, h("11223344556677888877665544332211"), h("0123456789ABCDEFFEDCBA9876543210"),
    h("A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8"))


@dataclass(frozen=True, repr=False)
class SampleCard:
    """What the sample card carries, and the test keys a host needs to talk to it."""

    identity: str = "6200001234567890"
    debit: ApplicationProfile = SAMPLE_DEBIT
    credit: ApplicationProfile = SAMPLE_CREDIT
    payment_keys: IssuerKeys = SAMPLE_PAYMENT_KEYS
    purse_keys: PurseIssuerKeys = SAMPLE_PURSE_KEYS
    #: the purse PIN (None: spending needs no PIN)
    purse_pin: str | None = "123456"
    #: the key spec of both security domains (the GlobalPlatform test key)
    isd_keys: str = "default"

    def __repr__(self) -> str:
        return f"SampleCard({self.identity}, debit {self.debit.pan}, credit {self.credit.pan})"

    @property
    def payment_profiles(self) -> tuple[ApplicationProfile, ...]:
        return (self.debit, self.credit)

    def key_spec(self) -> KeySpec:
        return parse_key_spec(self.isd_keys)


SAMPLE = SampleCard()


def personalise(transports: Mapping[int, Transport], sample: SampleCard = SAMPLE) -> None:
    """Install and personalise the sample card's applications through each chip's ISD."""
    payment = card_personalisation(sample.payment_profiles, sample.payment_keys)
    _personalise_chip(transports[1], sample, [
        (aid, _PAYMENT_LOAD_FILE,
         _PAYMENT_DIRECTORY_MODULE if aid in _DIRECTORY_NAMES else _PAYMENT_APPLICATION_MODULE,
         items)
        for aid, items in payment.items()])
    purse = purse_perso_dgis(sample.identity, sample.purse_keys, pin=sample.purse_pin)
    _personalise_chip(transports[2], sample, [(_PURSE_AID, _PURSE_LOAD_FILE, _PURSE_MODULE, purse)])


def sample_card(sample: SampleCard = SAMPLE) -> SimulatedCard:
    """A simulated card personalised as ``sample`` (powered, ready to fork)."""
    card = _simulator.blank_card(sample.identity)
    transports = {n: T0Transport(SimTransport(card.runtime(n), f"sim:{sample.identity}#chip{n}"))
                  for n in (1, 2)}
    for transport in transports.values():
        transport.connect()
    personalise(transports, sample)
    card.power_on()
    return card


def _personalise_chip(transport: Transport, sample: SampleCard,
                      apps: Sequence[tuple[bytes, bytes, bytes, Sequence[tuple[int, bytes]]]]) -> None:
    client = GPClient(transport)
    client.select()
    client.open_secure_channel(sample.key_spec(), ChannelOptions(level=_LEVEL))
    for aid, load_file, module, items in apps:
        client.install(load_file, module, aid)
        client.personalize(aid, [DGI(dgi, value, sensitive=dgi & 0xF000 == 0x8000)
                                 for dgi, value in items])
        client.set_application_status(aid, _PERSONALIZED)
