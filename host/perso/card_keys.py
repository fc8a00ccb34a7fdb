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

from apdu_specs.caches import pure_cache
from apdu_specs.commands.gp_extra import GP_TEST_KEY
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.payment.cryptogram import IssuerMasterKeys
from host.gp import KeySpec, MasterKeys
from host.keystore import KeyFile, MasterKey
from host.payment.keys import IssuerKeys
from host.points.keys import PurseIssuerKeys

from .errors import ProfileError
from .profile import Profile

__all__ = ["INITIAL_KVN", "CardKeyFactory", "factory_key_spec"]

#: the key version GP reserves for the keys a card leaves the factory with
INITIAL_KVN = 0xFF


@pure_cache(maxsize=1)
def factory_key_spec() -> KeySpec:
    """The GlobalPlatform test keys a blank card ships with (public: 40..4F): one spec,
    whose key sets and ciphers every blank card of a run shares."""
    return KeySpec(MasterKeys.single(GP_TEST_KEY), None, "default")


class CardKeyFactory:
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

    # --- chip 1 ------------------------------------------------------------------------------
    @property
    def payment_keys(self) -> IssuerKeys:
        """The issuer master keys of the payment applications, with the CVK and PVK."""
        refs = self.profile.keys
        emv = IssuerMasterKeys(self._master(refs.emv_ac).value, self._master(refs.emv_smi).value,
                               self._master(refs.emv_smc).value)
        return IssuerKeys(emv, self._master(refs.cvk).value, self._master(refs.pvk).value)

    # --- chip 2 ------------------------------------------------------------------------------
    @property
    def purse_keys(self) -> PurseIssuerKeys:
        if self._purse is None:
            raise ProfileError("chip2.applications", "the profile has no purse")
        return self._purse


def _ref_field(refs: object, name: str) -> str:
    for field_name, value in vars(refs).items():
        if value == name:
            return field_name
    return name
