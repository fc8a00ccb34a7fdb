"""Sample cards whose keys derive from issuer master keys, as a real issuer's do.

:class:`~host.backoffice.sample_cards.SampleCards` gives every card random test keys, which
only a per-card key file can verify. These cards' purse keys derive from the ``purse_tac``
master and the card identity, and their ICC master keys from the ``emv_ac`` master and the
PAN (the card id, PSN 01 debit, 02 credit; the AES suite unless told), so a verifier holding
only the masters — in a token — can check what they sign. Test keys, never for a real card.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.emv import EMVScheme
from apdu_specs.crypto.purse import PurseScheme
from host.backoffice.card_keys import CardKeys, StaticKeyStore
from host.backoffice.sample_cards import SampleCards
from host.points.keys import diversify_purse_key
from host.records.assets import PURSE_ASSETS

__all__ = ["APPLICATIONS", "MasterKeyedCards"]

#: application -> PSN of the sample cards (the PAN is the card id)
APPLICATIONS = {"debit": "01", "credit": "02"}


class MasterKeyedCards(SampleCards):
    """Cards of an issuer with the master keys ``purse_tac`` and ``emv_ac`` (``algorithm``:
    AES or 3DES, 16-byte masters)."""

    def __init__(self, seed: str = "dualcard-hsm", algorithm: Algorithm = Algorithm.AES) -> None:
        super().__init__(seed)
        self.algorithm = algorithm
        self.masters = {name: hashlib.sha256(f"{seed}|{name}".encode()).digest()[:16]
                        for name in ("purse_tac", "emv_ac")}
        self._purse = PurseScheme(algorithm)
        self._emv = EMVScheme(algorithm)

    def keys(self, card_id: str) -> CardKeys:
        if card_id not in self._cache:
            dtk = {asset.value: diversify_purse_key(self.masters["purse_tac"], card_id, purse,
                                                    self.algorithm)
                   for purse, asset in PURSE_ASSETS.items()}
            ac_mk = {app: self._emv.icc_master_key(self.masters["emv_ac"], card_id, psn)
                     for app, psn in APPLICATIONS.items()}
            self._cache[card_id] = CardKeys(dtk, ac_mk)
        return self._cache[card_id]

    def key_store(self, card_ids: Iterable[str]) -> StaticKeyStore:
        """The per-card keys, as the software verifier reads them."""
        return StaticKeyStore({c: self.keys(c) for c in card_ids}, self.algorithm)

    def register(self, card_ids: Iterable[str]) -> dict[str, dict[str, tuple[str, str]]]:
        """The card register (card id -> application -> PAN, PSN): public data."""
        return {c: {app: (c, psn) for app, psn in APPLICATIONS.items()} for c in card_ids}

    def register_data(self, card_ids: Iterable[str]) -> dict[str, object]:
        """The register as the JSON file ``ledger clear --card-register`` reads."""
        from host.hsm.verifier import CARD_REGISTER_FORMAT

        return {"format": CARD_REGISTER_FORMAT,
                "cards": {c: {app: {"pan": pan, "psn": psn} for app, (pan, psn) in apps.items()}
                          for c, apps in self.register(card_ids).items()}}
