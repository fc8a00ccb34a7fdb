"""Per-card keys, diversified from the issuer's master keys and the card's identity.

- Security domain (each chip): the suite's GP scheme with the chip's KDD from INITIALIZE
  UPDATE — KDF3 for AES and SM4, EMV CPS for 3DES (:mod:`apdu_specs.crypto.diversify`).
- Payment applications (chip 1): ICC master keys MK-AC, MK-SMI, MK-SMC from the issuer
  master keys and PAN ‖ PSN, EMV option A (:mod:`apdu_specs.payment.cryptogram`).
- Points purses (chip 2): DLK, DPK, DTK per purse from the purse master keys and the
  card identity (:mod:`host.points.keys`).
- Magnetic stripe and the chip's track 2: CVV, iCVV and PVV straight from the CVK and PVK
  (not per-card keys; :mod:`host.payment.stripe` computes them).

:meth:`CardKeyFactory.master_kcvs` names every master key in use by reference and KCV —
what the audit file records; no method here returns a value for display.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apdu_specs.caches import pure_cache
from apdu_specs.commands.gp_extra import GP_TEST_KEY
from apdu_specs.commands.purse_data import KEY_LENGTH, KeyKind, Purse, key_dgi
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.payment.cryptogram import IssuerMasterKeys
from host.gp import DGI, ChannelOptions, GPClient, KeySpec, MasterKeys
from host.gp.secure_channel import SecureChannel
from host.hsm.recipe import Part
from host.keystore import KeyFile, MasterKey
from host.payment.keys import CardChecks, IssuerKeys
from host.payment.perso import application_dgis
from host.payment.profile import ApplicationProfile
from host.points.keys import PurseIssuerKeys
from host.points.perso import purse_perso_dgis

from .errors import ProfileError
from .profile import Profile

__all__ = ["INITIAL_KVN", "AppSecrets", "CardKeyFactory", "CardKeys", "factory_key_spec",
           "purse_key_dgis"]

#: the key version GP reserves for the keys a card leaves the factory with
INITIAL_KVN = 0xFF


@pure_cache(maxsize=1)
def factory_key_spec() -> KeySpec:
    """The GlobalPlatform test keys a blank card ships with (public: 40..4F): one spec,
    whose key sets and ciphers every blank card of a run shares."""
    return KeySpec(MasterKeys.single(GP_TEST_KEY), None, "default")


@dataclass(frozen=True)
class AppSecrets:
    """An application's DGIs as its builder made them, and what a token puts in them.

    ``items``: ``(DGI, value)`` in the builder's order. ``secrets``: for a token, the DGIs
    whose value is a placeholder of the right length, each with the parts the token
    encrypts under the channel's DEK when the card is personalised (known bytes and card
    keys, :class:`~host.hsm.recipe.KeyRecipe`). ``kcvs``: the KCV of the key each key DGI
    holds, by DGI (the purse's; DGI 9000 carries a payment application's).
    """

    items: list[tuple[int, bytes]]
    secrets: dict[int, tuple[Part, ...]] = field(default_factory=dict)
    kcvs: dict[int, bytes] = field(default_factory=dict)


class CardKeys(ABC):
    """The per-card keys of a profile: where they are made and how they reach the card.

    :class:`CardKeyFactory` makes them from the sealed key file, in this process;
    :class:`host.perso.token_keys.TokenCardKeys` in a PKCS#11 token, which encrypts them
    under each channel's DEK itself (docs/hsm.md).
    """

    profile: Profile

    @abstractmethod
    def master_kcvs(self) -> dict[str, str]:
        """``reference → KCV`` of every master key the profile uses."""

    @property
    @abstractmethod
    def isd_spec(self) -> KeySpec:
        """The issuer's ISD key as a GP key spec (to open a channel with the issuer's keys)."""

    @abstractmethod
    def isd_kcvs(self, kdd: bytes) -> str:
        """``ENC/MAC/DEK`` KCVs of the security domain whose KDD is ``kdd``."""

    @abstractmethod
    def put_isd_keys(self, client: GPClient, kdd: bytes) -> str:
        """PUT KEY of the chip's issuer key set, under the open channel's DEK; its KCVs
        (as :meth:`isd_kcvs`)."""

    @abstractmethod
    def prove_issuer_keys(self, client: GPClient, options: ChannelOptions) -> None:
        """Show that the chip holds the issuer's key set (after PUT KEY); ends the session."""

    @property
    @abstractmethod
    def checks(self) -> CardChecks:
        """What computes the CVV, iCVV and PVV."""

    @abstractmethod
    def payment_dgis(self, profile: ApplicationProfile,
                     template: Mapping[int, bytes] | None) -> AppSecrets:
        """Every DGI of one payment application."""

    @abstractmethod
    def purse_dgis(self, card_identity: str, **options: Any) -> AppSecrets:
        """Every DGI of the purse (``options``: :func:`~host.points.perso.purse_perso_dgis`)."""

    def sealed(self, dgis: Sequence[DGI], secrets: Mapping[int, tuple[Part, ...]],
               channel: SecureChannel) -> list[DGI]:
        """The DGIs to send in ``channel``: as planned (the channel encrypts the sensitive
        ones), or with a token's secrets encrypted under its DEK."""
        return list(dgis)

    def close(self) -> None:  # noqa: B027 (the key file has nothing to release)
        """Release what the keys hold (a token's session objects)."""


class CardKeyFactory(CardKeys):
    """Derives every per-card key a profile needs from one key file."""

    def __init__(self, keys: KeyFile, profile: Profile) -> None:
        self.profile = profile
        refs = profile.keys
        self._masters = {name: keys.get(name) for name in refs.used(profile)}
        suite = profile.suite
        for name in (refs.isd, *( [refs.purse_load, refs.purse_purchase, refs.purse_tac]
                                  if profile.purse_apps else [])):
            key = self._masters[name]
            if key.algorithm is not suite.algorithm:
                raise ProfileError("keys." + _ref_field(refs, name),
                                   f"key {name!r} is {key.algorithm.value}, the profile's suite "
                                   f"is {suite.name}")
        self._isd_spec = KeySpec(MasterKeys.single(self._master(refs.isd).value),
                                 suite.diversification, f"key file: {refs.isd}")
        self._purse: PurseIssuerKeys | None = None
        if profile.purse_apps:
            self._purse = PurseIssuerKeys(
                suite.algorithm, self._master(refs.purse_load).value,
                self._master(refs.purse_purchase).value, self._master(refs.purse_tac).value,
                key_index=profile.points.key_index, key_version=profile.points.key_version)

    def __repr__(self) -> str:
        return f"CardKeyFactory({', '.join(f'{k}={v}' for k, v in self.master_kcvs().items())})"

    def _master(self, name: str) -> MasterKey:
        return self._masters[name]

    def master_kcvs(self) -> dict[str, str]:
        """``reference → KCV`` of every master key the profile uses."""
        return {name: key.kcv_hex for name, key in sorted(self._masters.items())}

    # --- security domains ------------------------------------------------------------------
    @property
    def isd_spec(self) -> KeySpec:
        """The issuer's ISD master key as a GP key spec (diversified per chip by its KDD)."""
        return self._isd_spec

    def isd_keys(self, kdd: bytes) -> StaticKeys:
        """The static keys of the security domain whose KDD is ``kdd``."""
        return self._isd_spec.card_keys(kdd, self.profile.suite.algorithm)

    def isd_kcvs(self, kdd: bytes) -> str:
        return "/".join(k.hex().upper() for k in self.isd_keys(kdd).kcvs())

    def put_isd_keys(self, client: GPClient, kdd: bytes) -> str:
        client.put_key(self.isd_keys(kdd), self.profile.isd_key_version)
        return self.isd_kcvs(kdd)

    def prove_issuer_keys(self, client: GPClient, options: ChannelOptions) -> None:
        client.authenticate_card(self._isd_spec, options)

    # --- chip 1 ------------------------------------------------------------------------------
    @property
    def payment_keys(self) -> IssuerKeys:
        """The issuer master keys of the payment applications, with the CVK and PVK."""
        refs = self.profile.keys
        emv = IssuerMasterKeys(self._master(refs.emv_ac).value, self._master(refs.emv_smi).value,
                               self._master(refs.emv_smc).value)
        return IssuerKeys(emv, self._master(refs.cvk).value, self._master(refs.pvk).value)

    @property
    def checks(self) -> CardChecks:
        return self.payment_keys

    def payment_dgis(self, profile: ApplicationProfile,
                     template: Mapping[int, bytes] | None) -> AppSecrets:
        return AppSecrets(application_dgis(profile, self.payment_keys, record_template=template))

    # --- chip 2 ------------------------------------------------------------------------------
    @property
    def purse_keys(self) -> PurseIssuerKeys:
        if self._purse is None:
            raise ProfileError("chip2.applications", "the profile has no purse")
        return self._purse

    def purse_dgis(self, card_identity: str, **options: Any) -> AppSecrets:
        items = purse_perso_dgis(card_identity, self.purse_keys, **options)
        values = dict(items)
        suite = self.profile.suite
        return AppSecrets(items, kcvs={dgi: suite.kcv(values[dgi][:KEY_LENGTH])
                                       for dgi in purse_key_dgis()})


def purse_key_dgis() -> tuple[int, ...]:
    """The DGIs of the purse's nine keys (three purses, DLK, DPK, DTK)."""
    return tuple(key_dgi(purse, kind) for purse in Purse for kind in KeyKind)


def _ref_field(refs: object, name: str) -> str:
    for field_name, value in vars(refs).items():
        if value == name:
            return field_name
    return name
