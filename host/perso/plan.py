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

from collections.abc import Sequence
from dataclasses import dataclass, field

from apdu_specs.commands.purse_data import DGI as PurseDGI
from apdu_specs.commands.purse_data import KEY_LENGTH, KeyKind, Purse, key_dgi
from apdu_specs.crypto.suite import AlgorithmSuite
from apdu_specs.payment import dgi as payment_dgi
from apdu_specs.payment.issuer_response import ARPCMethod
from apdu_specs.tlv import TLV, parse_tlvs
from host.gp import DGI
from host.payment.perso import application_dgis, directory_dgis
from host.payment.profile import ApplicationProfile, Product
from host.payment.stripe import StripeTracks, encode_stripe
from host.points.perso import PurseProfile, purse_perso_dgis

from .card_data import CardData
from .card_keys import CardKeyFactory
from .profile import AppKind, ApplicationSpec, Profile

__all__ = ["PIN_DGIS", "AppPlan", "CardPlan", "is_sensitive", "plan_card"]

_RECORD_2 = payment_dgi.record_dgi(1, 2)
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

    @property
    def pin_dgis(self) -> tuple[DGI, ...]:
        """The DGIs that carry the PIN (sent again when a finished application is kept)."""
        return tuple(d for d in self.dgis if d.dgi in PIN_DGIS)

    def __repr__(self) -> str:
        return f"AppPlan({self.spec.label}, {len(self.dgis)} DGIs)"


@dataclass(frozen=True, repr=False)
class CardPlan:
    """Everything one card receives; the repr shows the card, never secrets."""

    card: CardData
    apps: tuple[AppPlan, ...]
    stripe: StripeTracks | None
    #: per-card key check values (``chip1.debit.mk_ac`` → KCV), for the audit
    kcvs: dict[str, str] = field(default_factory=dict)

    def chip_apps(self, chip: int) -> tuple[AppPlan, ...]:
        return tuple(a for a in self.apps if a.spec.chip == chip)

    def __repr__(self) -> str:
        return f"CardPlan({self.card!r}, {len(self.apps)} applications)"


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
    dgis = [DGI(dgi, bytes(value), is_sensitive(dgi)) for dgi, value in items]
    plain = [d for d in dgis if not d.sensitive and d.dgi not in _AFTER_SECRETS]
    secrets = [d for d in dgis if d.sensitive]
    checks = [DGI(d.dgi, d.value, sensitive=bool(secrets)) for d in dgis
              if not d.sensitive and d.dgi in _AFTER_SECRETS]
    return (*plain, *secrets, *checks)


def _payment_profiles(card: CardData, profile: Profile) -> dict[bytes, ApplicationProfile]:
    out: dict[bytes, ApplicationProfile] = {}
    for rank, spec in enumerate(profile.payment_apps):
        settings = spec.payment
        assert settings is not None
        psn = settings.psn or f"{(int(card.psn) + rank) % 100:02d}"
        out[spec.aid] = ApplicationProfile(
            product=Product.CREDIT if settings.credit_limit is not None else Product.DEBIT,
            pan=card.pan, expiry=card.expiry, cardholder_name=card.name, psn=psn,
            effective=card.effective[:4], label=settings.label, priority=settings.priority,
            aid=spec.aid, currency=profile.currency, currency_exponent=profile.currency_exponent,
            country=profile.country, offline_limit=settings.offline_limit,
            credit_limit=settings.credit_limit,
            lower_consecutive_offline=settings.lower_consecutive_offline,
            upper_consecutive_offline=settings.upper_consecutive_offline,
            pin=card.pin, pin_try_limit=profile.pin.try_limit, cvn=profile.cvn, dki=settings.dki,
            arpc_method=ARPCMethod(settings.arpc_method),
            service_code=profile.magstripe.service_code, pvki=profile.magstripe.pvki)
    return out


def _with_template(items: list[tuple[int, bytes]],
                   template: dict[int, bytes]) -> list[tuple[int, bytes]]:
    """Record 2 of SFI 1 with the profile's template objects added (same tag: replaced)."""
    if not template:
        return items
    out = []
    for dgi, value in items:
        if dgi == _RECORD_2:
            # the 70 template's children, as parsing its value again would give them
            kids = [o for o in parse_tlvs(value)[0].children if o.tag not in template]
            kids += [TLV(tag, data) for tag, data in template.items()]
            value = TLV.build(0x70, kids).encode()
        out.append((dgi, value))
    return out


def plan_card(card: CardData, profile: Profile, keys: CardKeyFactory) -> CardPlan:
    """The complete personalisation of one card."""
    payments = _payment_profiles(card, profile)
    issuer_keys = keys.payment_keys if payments else None
    directories = directory_dgis(list(payments.values())) if payments else {}
    kcvs: dict[str, str] = {}
    apps: list[AppPlan] = []
    for spec in profile.applications:
        if spec.kind is AppKind.DIRECTORY:
            items = directories.get(spec.aid) or directory_dgis([])[spec.aid]
        elif spec.kind is AppKind.PAYMENT:
            assert issuer_keys is not None and spec.payment is not None
            items = _with_template(application_dgis(payments[spec.aid], issuer_keys),
                                   spec.payment.template)
            kcvs.update(_payment_kcvs(spec, items))
        else:
            items = _purse_dgis(card, profile, keys)
            kcvs.update(_purse_kcvs(spec, items, profile.suite))
        apps.append(AppPlan(spec, _dgis(items)))
    stripe = None
    if profile.magstripe.enabled and payments and issuer_keys is not None:
        stripe = encode_stripe(next(iter(payments.values())), issuer_keys)
    return CardPlan(card, tuple(apps), stripe, kcvs)


def _payment_kcvs(spec: ApplicationSpec, items: Sequence[tuple[int, bytes]]) -> dict[str, str]:
    values = dict(items).get(payment_dgi.KEY_CHECK_VALUES, b"")
    names = ("mk_ac", "mk_smi", "mk_smc")
    return {f"chip{spec.chip}.{spec.name}.{name}": values[3 * i:3 * i + 3].hex().upper()
            for i, name in enumerate(names) if len(values) >= 3 * i + 3}


def _purse_profiles(profile: Profile) -> dict[Purse, PurseProfile]:
    points = profile.points
    return {p: PurseProfile(points.max_balance[p], points.initial[p], points.pin_for_purchase)
            for p in Purse}


def _purse_dgis(card: CardData, profile: Profile, keys: CardKeyFactory) -> list[tuple[int, bytes]]:
    return purse_perso_dgis(card.card_id, keys.purse_keys, profiles=_purse_profiles(profile),
                            pin=card.pin, pin_try_limit=profile.pin.try_limit,
                            mac_try_limit=profile.points.mac_try_limit)


def _purse_kcvs(spec: ApplicationSpec, items: Sequence[tuple[int, bytes]],
                suite: AlgorithmSuite) -> dict[str, str]:
    """KCVs of the purse keys, read from the key DGIs just built (the key is their tail)."""
    out = {}
    values = dict(items)
    for purse in Purse:
        for kind, name in ((KeyKind.LOAD, "dlk"), (KeyKind.PURCHASE, "dpk"), (KeyKind.TAC, "dtk")):
            key = values[key_dgi(purse, kind)][-KEY_LENGTH:]
            out[f"chip{spec.chip}.{spec.name}.{purse.label}.{name}"] = suite.kcv(key).hex().upper()
    return out
