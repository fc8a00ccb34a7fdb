"""What goes on one card, computed before anything is sent: applications, DGIs, stripe, KCVs.

:func:`plan_card` is pure: card data, profile and master keys in, a :class:`CardPlan`
out. The run sends it; a dry run prints it (DGI numbers and sizes, per-card key KCVs,
the APDU count) and sends nothing. The data itself comes from the applications' own
issuer-side builders — :mod:`host.payment.perso` for chip 1, :mod:`host.points.perso`
for chip 2 — so the profile only chooses, it never re-encodes a card format.

Sensitive DGIs (keys, PINs: every DGI ``8xxx``, as EMV CPS numbers them) are marked
to travel encrypted under the session DEK.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apdu_specs.commands.purse_data import DGI as PurseDGI
from apdu_specs.commands.purse_data import KeyKind, Purse, key_dgi
from apdu_specs.payment import dgi as payment_dgi
from apdu_specs.payment.issuer_response import ARPCMethod
from host.gp import DGI
from host.hsm.recipe import Part
from host.payment.perso import directory_dgis
from host.payment.profile import ApplicationProfile, Product
from host.payment.stripe import StripeTracks, encode_stripe
from host.points.perso import PurseProfile

from .card_data import CardData
from .card_keys import AppSecrets, CardKeys
from .profile import AppKind, ApplicationSpec, Profile

__all__ = ["PIN_DGIS", "AppPlan", "CardPlan", "CardPlanner", "PINCheck", "is_sensitive",
           "plan_card"]

#: the PIN DGI of the payment applications and of the purse (both EMV CPS's 8010)
PIN_DGIS = frozenset({payment_dgi.PIN, int(PurseDGI.PIN)})


def is_sensitive(dgi: int) -> bool:
    """EMV CPS numbering: DGIs 8000–8FFF carry secrets (keys, PINs)."""
    return dgi & 0xF000 == 0x8000


@dataclass(frozen=True)
class AppPlan:
    """One application: where it comes from and every DGI it receives."""

    spec: ApplicationSpec
    dgis: tuple[DGI, ...]
    #: application-specific install parameters (the C9 value)
    install_params: bytes = b""
    #: with a token: the DGIs whose planned value is a placeholder, and what the token
    #: encrypts in their place (:class:`~.card_keys.AppSecrets`)
    secrets: Mapping[int, tuple[Part, ...]] = field(default_factory=dict)

    @property
    def pin_dgis(self) -> tuple[DGI, ...]:
        """The DGIs that carry the PIN (sent again when a finished application is kept)."""
        return tuple(d for d in self.dgis if d.dgi in PIN_DGIS)

    def __repr__(self) -> str:
        return f"AppPlan({self.spec.label}, {len(self.dgis)} DGIs)"


@dataclass(frozen=True)
class PINCheck:
    """What the issuer keeps to verify the card's PIN online: the Visa PVV under the PVK
    numbered ``pvki`` (never the PIN). Only a 4-digit PIN has one (the PVV's TSP holds
    4 PIN digits), as on the stripe."""

    pvki: str
    pvv: str


@dataclass(frozen=True, repr=False)
class CardPlan:
    """Everything one card receives; the repr shows the card, never secrets."""

    card: CardData
    apps: tuple[AppPlan, ...]
    stripe: StripeTracks | None
    #: per-card key check values (``chip1.debit.mk_ac`` → KCV), for the audit
    kcvs: dict[str, str] = field(default_factory=dict)
    #: the PVV the issuer records when the card is issued (None: no payment application,
    #: or a PIN that is not 4 digits)
    pin_check: PINCheck | None = None

    def chip_apps(self, chip: int) -> tuple[AppPlan, ...]:
        return self._by_chip.get(chip, ())

    @functools.cached_property
    def _by_chip(self) -> dict[int, tuple[AppPlan, ...]]:
        """The applications of each chip, in order: the run, its count and its read-back
        each ask for them (stored in the instance's own dict, so the plan stays frozen)."""
        by_chip: dict[int, list[AppPlan]] = {}
        for app in self.apps:
            by_chip.setdefault(app.spec.chip, []).append(app)
        return {chip: tuple(apps) for chip, apps in by_chip.items()}

    def __repr__(self) -> str:
        return f"CardPlan({self.card!r}, {len(self.apps)} applications)"


#: the audit name of each purse key
_PURSE_KEY_NAMES = ((KeyKind.LOAD, "dlk"), (KeyKind.PURCHASE, "dpk"), (KeyKind.TAC, "dtk"))

#: DGIs that check secrets sent before them (the KCVs of DGI 8000), so they stay behind them
_AFTER_SECRETS = frozenset({payment_dgi.KEY_CHECK_VALUES})


def _dgis(items: Sequence[tuple[int, bytes]]) -> tuple[DGI, ...]:
    """The DGIs in sending order: plain ones, then the secrets, then what checks them.

    Every change between plain and encrypted data starts a new STORE DATA block, so the
    secrets are grouped, and what checks them (the KCVs) travels encrypted with them — a
    KCV is no secret, but its own plain block would cost a command. The builders'
    relative order is kept inside each group, which keeps the applications' own rules
    (parameters before keys, PIN try limit before PIN, KCVs after keys).
    """
    plain: list[DGI] = []
    secrets: list[DGI] = []
    checks: list[tuple[int, bytes]] = []
    for dgi, value in items:
        if is_sensitive(dgi):
            secrets.append(DGI(dgi, bytes(value), True))
        elif dgi in _AFTER_SECRETS:
            checks.append((dgi, value))
        else:
            plain.append(DGI(dgi, bytes(value), False))
    encrypted = bool(secrets)
    return (*plain, *secrets, *(DGI(dgi, bytes(value), encrypted) for dgi, value in checks))


@dataclass(frozen=True)
class _PaymentApp:
    """A payment application of the profile, with what its cards share worked out once."""

    spec: ApplicationSpec
    #: its rank among the payment applications (the PSN of the card plus the rank, unless set)
    rank: int
    #: the PSN the profile sets for it, if any
    psn: str | None
    #: the :class:`ApplicationProfile` arguments that are the same on every card
    shared: dict[str, Any]
    #: the audit names of the KCVs of MK-AC, MK-SMI and MK-SMC, in DGI 9000's order
    kcv_names: tuple[str, ...]

    @classmethod
    def of(cls, spec: ApplicationSpec, rank: int, profile: Profile) -> _PaymentApp:
        settings = spec.payment
        assert settings is not None
        shared = dict(
            product=Product.CREDIT if settings.credit_limit is not None else Product.DEBIT,
            label=settings.label, priority=settings.priority, aid=spec.aid,
            currency=profile.currency, currency_exponent=profile.currency_exponent,
            country=profile.country, offline_limit=settings.offline_limit,
            credit_limit=settings.credit_limit,
            lower_consecutive_offline=settings.lower_consecutive_offline,
            upper_consecutive_offline=settings.upper_consecutive_offline,
            pin_try_limit=profile.pin.try_limit, cvn=profile.cvn, dki=settings.dki,
            arpc_method=ARPCMethod(settings.arpc_method),
            service_code=profile.magstripe.service_code, pvki=profile.magstripe.pvki)
        names = tuple(f"chip{spec.chip}.{spec.name}.{key}" for key in ("mk_ac", "mk_smi", "mk_smc"))
        return cls(spec, rank, settings.psn, shared, names)

    def application_profile(self, card: CardData) -> ApplicationProfile:
        """The application's data for ``card`` (checked as every profile is)."""
        return ApplicationProfile(
            pan=card.pan, expiry=card.expiry, cardholder_name=card.name,
            psn=self.psn or f"{(int(card.psn) + self.rank) % 100:02d}",
            effective=card.effective[:4], pin=card.pin, **self.shared)

    def kcvs(self, items: Sequence[tuple[int, bytes]]) -> dict[str, str]:
        """The KCVs of the card's keys, read from DGI 9000 just built."""
        values = next((v for d, v in items if d == payment_dgi.KEY_CHECK_VALUES), b"")
        return {name: values[3 * i:3 * i + 3].hex().upper()
                for i, name in enumerate(self.kcv_names) if len(values) >= 3 * i + 3}


class CardPlanner:
    """Plans the cards of one profile with one key file (:meth:`plan` is :func:`plan_card`).

    What is the same on every card is prepared once, when the planner is made: the
    issuer's keys, each payment application's settings, the purse profiles, the audit
    names of the keys, and the directories (PSE, PPSE), which list the applications by
    AID, label and priority only.
    """

    def __init__(self, profile: Profile, keys: CardKeys) -> None:
        self.profile = profile
        self.keys = keys
        self._payments = tuple(_PaymentApp.of(spec, rank, profile)
                               for rank, spec in enumerate(profile.payment_apps))
        self._checks = keys.checks if self._payments else None
        self._purse_profiles = _purse_profiles(profile) if profile.purse_apps else {}
        #: (audit name, key DGI) of every purse key, for the KCVs
        self._purse_key_names = {
            spec.aid: tuple((f"chip{spec.chip}.{spec.name}.{purse.label}.{name}",
                             key_dgi(purse, kind))
                            for purse in Purse for kind, name in _PURSE_KEY_NAMES)
            for spec in profile.purse_apps}
        #: the directories' plans, built with the first card (from its payment profiles)
        self._directories: dict[bytes, AppPlan] | None = None

    def plan(self, card: CardData) -> CardPlan:
        """The complete personalisation of one card."""
        profile = self.profile
        payments = {app.spec.aid: (app, app.application_profile(card)) for app in self._payments}
        checks = self._checks
        kcvs: dict[str, str] = {}
        apps: list[AppPlan] = []
        for spec in profile.applications:
            if spec.kind is AppKind.DIRECTORY:
                apps.append(self._directory_plans(payments)[spec.aid])
                continue
            if spec.kind is AppKind.PAYMENT:
                assert spec.payment is not None
                app, app_profile = payments[spec.aid]
                made = self.keys.payment_dgis(app_profile, spec.payment.template)
                kcvs.update(app.kcvs(made.items))
            else:
                made = self._purse_dgis(card)
                kcvs.update(self._purse_kcvs(spec, made.kcvs))
            apps.append(AppPlan(spec, _dgis(made.items), secrets=made.secrets))
        stripe = None
        if profile.magstripe.enabled and payments and checks is not None:
            stripe = encode_stripe(next(iter(payments.values()))[1], checks)
        return CardPlan(card, tuple(apps), stripe, kcvs, self._pin_check(card))

    def _pin_check(self, card: CardData) -> PINCheck | None:
        """The card's PVV under the issuer's PVK, for the issuer's record (not the card)."""
        if self._checks is None or len(card.pin) != 4:
            return None
        pvki = self.profile.magstripe.pvki
        return PINCheck(pvki, self._checks.pvv(card.pan, pvki, card.pin))

    def _directory_plans(self, payments: dict[bytes, tuple[_PaymentApp, ApplicationProfile]]
                         ) -> dict[bytes, AppPlan]:
        """The PSE and PPSE: they list the applications by AID, label and priority, which
        the profile sets, so the first card's directories are every card's."""
        if self._directories is None:
            listed = directory_dgis([p for _, p in payments.values()]) if payments else {}
            self._directories = {
                spec.aid: AppPlan(spec, _dgis(listed.get(spec.aid)
                                              or directory_dgis([])[spec.aid]))
                for spec in self.profile.applications if spec.kind is AppKind.DIRECTORY}
        return self._directories

    def _purse_dgis(self, card: CardData) -> AppSecrets:
        profile = self.profile
        return self.keys.purse_dgis(card.card_id, profiles=self._purse_profiles, pin=card.pin,
                                    pin_try_limit=profile.pin.try_limit,
                                    mac_try_limit=profile.points.mac_try_limit)

    def _purse_kcvs(self, spec: ApplicationSpec, kcvs: Mapping[int, bytes]) -> dict[str, str]:
        """The audit names of the purse keys' KCVs (given by key DGI)."""
        return {name: kcvs[dgi].hex().upper() for name, dgi in self._purse_key_names[spec.aid]}


def plan_card(card: CardData, profile: Profile, keys: CardKeys) -> CardPlan:
    """The complete personalisation of one card (for many, :class:`CardPlanner`)."""
    return CardPlanner(profile, keys).plan(card)


def _purse_profiles(profile: Profile) -> dict[Purse, PurseProfile]:
    points = profile.points
    return {p: PurseProfile(points.max_balance[p], points.initial[p], points.pin_for_purchase)
            for p in Purse}
