"""Personalisation with the issuer's master keys in a PKCS#11 token (docs/hsm.md, section 5).

:class:`TokenCardKeys` is the token's :class:`~.card_keys.CardKeys`. A plan holds no card
key: each secret DGI is a placeholder of the right length, and beside it the parts the
token encrypts in its place — known bytes and :class:`~host.hsm.recipe.KeyRecipe`\\ s (a
card key named by its master and diversification data). When the card's channel is open,
:class:`~host.hsm.sealing.TokenSealer` derives each key in the token and encrypts it under
the channel's DEK there (AES; 3DES is the documented exception), giving exactly the bytes
the key file path sends. KCVs (the audit, DGI 9000, PUT KEY) are computed in the token;
the CVV, iCVV and PVV too (:class:`~host.hsm.card_checks.ProviderCardChecks`).

What the token cannot do is refused with a typed error: a chip that already holds the
issuer's keys (a run to resume, a card to read back in a new session) needs the secure
channel's session keys from its card keys, which this token path does not compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from apdu_specs.commands.globalplatform import INITIALIZE_UPDATE
from apdu_specs.commands.purse_data import KEY_LENGTH, KeyKind, Purse, key_dgi
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.diversify import KeyType
from apdu_specs.payment import dgi as payment_dgi
from apdu_specs.payment.cryptogram import version_for
from host.gp import DGI, ChannelOptions, GPClient, KeySpec, UnknownKeySetError
from host.gp.secure_channel import SecureChannel
from host.hsm import HeldKey, HSMUnsupportedError
from host.hsm.card_checks import ProviderCardChecks
from host.hsm.recipe import KeyRecipe, Part
from host.hsm.schemes import (
    cmac_subkey,
    emv_cps_data,
    kdf3_data,
    option_a_data,
    purse_key_data,
)
from host.hsm.sealing import TokenSealer
from host.hsm.token import TokenKeyProvider
from host.payment.keys import CardChecks
from host.payment.perso import application_dgis_with
from host.payment.profile import ApplicationProfile
from host.points.keys import PurseCardKeys
from host.points.perso import purse_perso_dgis

from .card_keys import AppSecrets, CardKeys
from .profile import Profile

__all__ = ["TokenCardKeys"]

#: the issuer's key set replaces the factory keys: ENC, MAC, DEK in PUT KEY's order
_ISD_KEYS = (KeyType.ENC, KeyType.MAC, KeyType.DEK)
#: a stand-in for a card key in a planned DGI (the token puts the key in its place)
_PLACEHOLDER = bytes(KEY_LENGTH)
#: the card keys kept from planning to sealing, at most: a card's (15) a few times over
_KEPT = 64


class TokenCardKeys(CardKeys):
    """The per-card keys of ``profile``, made from the master keys in a token."""

    def __init__(self, provider: TokenKeyProvider, profile: Profile) -> None:
        self.profile = profile
        self._provider = provider
        refs = profile.keys
        suite = profile.suite.algorithm
        if suite not in (Algorithm.AES, Algorithm.TDES):
            raise HSMUnsupportedError(f"a PKCS#11 token holds no {profile.suite.name} keys; "
                                      "personalise this profile with the key file")
        #: the master each reference names, of the algorithm its use needs
        self._masters = {name: provider.key(name, _algorithm_of(name, profile))
                         for name in refs.used(profile)}
        self._kcvs = {name: provider.kcv(key).hex().upper()
                      for name, key in sorted(self._masters.items())}
        isd = self._masters[refs.isd]
        #: KDF3's CMAC subkey of the ISD master (every card's the same)
        self._k1 = cmac_subkey(provider, isd) if suite is Algorithm.AES else b""
        #: AES card keys derived for their KCVs when a card is planned, kept for its sealing
        #: (:meth:`_kcv`); the oldest destroyed beyond :data:`_KEPT`
        self._made: dict[KeyRecipe, HeldKey] = {}
        self._checks: ProviderCardChecks | None = None
        if profile.payment_apps:
            self._checks = ProviderCardChecks.of(provider, refs.cvk, refs.pvk)

    def __repr__(self) -> str:
        return f"TokenCardKeys({self._provider!r}, {', '.join(self._kcvs)})"

    def master_kcvs(self) -> dict[str, str]:
        return dict(self._kcvs)

    # --- security domains ------------------------------------------------------------------
    @property
    def isd_spec(self) -> KeySpec:
        raise HSMUnsupportedError(
            "the chip already holds the issuer's keys: opening a secure channel with them "
            "takes session keys computed from the card keys, which personalisation with a "
            "token does not do (docs/hsm.md, section 5); finish this card with the key file")

    def _isd_recipe(self, kdd: bytes, key_type: KeyType) -> KeyRecipe:
        master = self._masters[self.profile.keys.isd]
        if master.algorithm is Algorithm.AES:
            data = kdf3_data(master, self._k1, kdd, key_type)
        else:
            data = emv_cps_data(master, kdd, key_type)
        return KeyRecipe(master, data, f"isd.{key_type.name.lower()}")

    def isd_kcvs(self, kdd: bytes) -> str:
        return "/".join(self._kcv(self._isd_recipe(kdd, t)).hex().upper() for t in _ISD_KEYS)

    def put_isd_keys(self, client: GPClient, kdd: bytes) -> str:
        entries, kcvs = self.isd_key_entries(_channel(client), kdd)
        client.put_key_entries(entries, kcvs, self.profile.isd_key_version)
        return "/".join(kcv.hex().upper() for kcv in kcvs)

    def isd_key_entries(self, channel: SecureChannel, kdd: bytes
                        ) -> tuple[list[dict[str, object]], list[bytes]]:
        """PUT KEY's entries for the chip's ENC, MAC and DEK (under ``channel``'s DEK, made
        in the token) and their KCVs."""
        with self._sealer(channel) as sealer:
            made = [sealer.key_component(self._isd_recipe(kdd, t)) for t in _ISD_KEYS]
        return [entry for entry, _ in made], [kcv for _, kcv in made]

    def prove_issuer_keys(self, client: GPClient, options: ChannelOptions) -> None:
        """INITIALIZE UPDATE with the issuer's key version: the card answers for that key
        set (its KCVs were checked by the card in PUT KEY). The card's cryptogram is not
        checked: that takes the session keys (see the module doc)."""
        client.channel = None  # INITIALIZE UPDATE ends the session
        apdu = INITIALIZE_UPDATE.build(key_version=options.kvn, cla=options.cla,
                                       data={"host_challenge": bytes(8)})
        answer = client.transport.transmit(apdu.encode())
        sw = int.from_bytes(answer[-2:], "big")
        fields = INITIALIZE_UPDATE.parse_response(answer[:-2]) if sw == 0x9000 else {}
        if fields.get("key_version") != options.kvn:
            raise UnknownKeySetError(f"the card does not answer for key set {options.kvn:02X} "
                                     f"({sw:04X})")

    # --- chip 1 ------------------------------------------------------------------------------
    @property
    def checks(self) -> CardChecks:
        if self._checks is None:
            raise HSMUnsupportedError("the profile has no payment application")
        return self._checks

    def payment_dgis(self, profile: ApplicationProfile,
                     template: Mapping[int, bytes] | None) -> AppSecrets:
        refs = self.profile.keys
        option = version_for(profile.cvn).option
        recipes = tuple(
            KeyRecipe(master, option_a_data(master, profile.pan, profile.psn, option), name,
                      odd_parity=master.algorithm is Algorithm.TDES)
            for name, master in (("mk_ac", self._masters[refs.emv_ac]),
                                 ("mk_smi", self._masters[refs.emv_smi]),
                                 ("mk_smc", self._masters[refs.emv_smc])))
        kcvs = b"".join(self._kcv(r) for r in recipes)
        placeholder = bytes(sum(r.length for r in recipes))
        items = application_dgis_with(profile, self.checks, placeholder, kcvs,
                                      record_template=template)
        return AppSecrets(items, {payment_dgi.MASTER_KEYS: recipes})

    # --- chip 2 ------------------------------------------------------------------------------
    def purse_dgis(self, card_identity: str, **options: Any) -> AppSecrets:
        points = self.profile.points
        placeholders = _Placeholders(self.profile.suite.algorithm, points.key_index,
                                     points.key_version)
        items = purse_perso_dgis(card_identity, placeholders, **options)
        secrets: dict[int, tuple[Part, ...]] = {}
        kcvs: dict[int, bytes] = {}
        for purse in Purse:
            for kind, ref in self._purse_masters():
                master = self._masters[ref]
                recipe = KeyRecipe(master, purse_key_data(card_identity, purse),
                                   f"{purse.label}.{kind.name.lower()}",
                                   odd_parity=master.algorithm is Algorithm.TDES)
                dgi = key_dgi(purse, kind)
                tail = bytes([points.key_version]) if kind is KeyKind.TAC else bytes(
                    [points.key_index, points.key_version])
                secrets[dgi] = (recipe, tail)
                kcvs[dgi] = self._kcv(recipe)
        return AppSecrets(items, secrets, kcvs)

    def _purse_masters(self) -> tuple[tuple[KeyKind, str], ...]:
        refs = self.profile.keys
        return ((KeyKind.LOAD, refs.purse_load), (KeyKind.PURCHASE, refs.purse_purchase),
                (KeyKind.TAC, refs.purse_tac))

    # --- on the card ---------------------------------------------------------------------
    def sealed(self, dgis: Sequence[DGI], secrets: Mapping[int, tuple[Part, ...]],
               channel: SecureChannel) -> list[DGI]:
        if not secrets:
            return list(dgis)
        with self._sealer(channel) as sealer:
            return [DGI(d.dgi, sealer.seal(secrets[d.dgi]), True, sealed=True)
                    if d.dgi in secrets else d for d in dgis]

    def _sealer(self, channel: SecureChannel) -> TokenSealer:
        return TokenSealer(self._provider, channel.key_algorithm, channel.dek_value(),
                           made=self._made)

    def _kcv(self, recipe: KeyRecipe) -> bytes:
        """A card key's KCV, computed in the token on a key that never leaves it.

        An AES card key is derived as the sealer would derive it (sensitive, extractable
        only to be wrapped) and kept until the card is sealed, which wraps and destroys it:
        a card key is derived once, not once for its KCV and again for the card. A 3DES card
        key (read out when sealed, docs/hsm.md) is derived for its KCV only, and destroyed.
        """
        provider = self._provider
        if recipe.master.algorithm is not Algorithm.AES:
            with provider.derived(recipe.master, recipe.data) as key:
                return provider.kcv(key)
        key = provider.derive_card_key(recipe.master, recipe.data, odd_parity=recipe.odd_parity)
        self._keep(recipe, key)
        return provider.kcv(key)

    def _keep(self, recipe: KeyRecipe, key: HeldKey) -> None:
        """Keep ``key`` for the sealing of ``recipe``; the oldest kept keys beyond
        :data:`_KEPT` (cards planned and never sealed: dry runs, failures) destroyed."""
        made = self._made
        replaced = made.pop(recipe, None)
        if replaced is not None:
            self._provider.discard(replaced)
        made[recipe] = key
        while len(made) > _KEPT:
            oldest = made.pop(next(iter(made)), None)
            if oldest is not None:
                self._provider.discard(oldest)


def _algorithm_of(name: str, profile: Profile) -> Algorithm | None:
    """The algorithm the master ``name`` must have: the suite's for the security domains,
    the purses and the payment cryptograms, 3DES for the CVK and PVK."""
    refs = profile.keys
    if name in (refs.cvk, refs.pvk):
        return Algorithm.TDES
    return profile.suite.algorithm


def _channel(client: GPClient) -> SecureChannel:
    if client.channel is None:
        raise HSMUnsupportedError("PUT KEY needs the chip's secure channel open")
    return client.channel


@dataclass(frozen=True)
class _Placeholders:
    """A purse key source whose keys are placeholders: the purse's DGIs are built by their
    one builder, and the token puts each key in its place when it seals them."""

    algorithm: Algorithm
    key_index: int
    key_version: int

    def card_keys(self, card_identity: str, purse: Purse) -> PurseCardKeys:
        return PurseCardKeys(self.algorithm, _PLACEHOLDER, _PLACEHOLDER, _PLACEHOLDER,
                             self.key_index, self.key_version)
