"""The issuer's card keys as the software verifier needs them: per card, the purse TAC key
(DTK) and the chip-1 ICC master key for application cryptograms.

Production keeps these in an HSM; this key store is for the software verifier, the simulator
and tests. A key file is JSON::

    {"format": "dualcard-issuer-keys/1", "algorithm": "3des",
     "cards": {"CARD0001": {
         "dtk": {"consumption_points": "<32 hex>", "bank_points": "<32 hex>",
                 "credit_points": "<32 hex>"},
         "ac_mk": {"debit": "<32 hex>", "credit": "<32 hex>"}}}}

Every purse has its own DTK (the purse number is part of the diversification): that is what
makes a TAC name its purse, since no TAC field does. One key for every purse could not tell a
consumption-points load from a bank-points one, so a key file that gives one is refused
(docs/trust.md). Key values never appear in reprs or error messages; a KCV does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from apdu_specs.crypto.ciphers import Algorithm
from host.backoffice.assets import Asset
from host.backoffice.errors import ConfigurationError
from host.files import read_json

__all__ = ["KEY_FILE_FORMAT", "CardKeyStore", "CardKeys", "StaticKeyStore", "load_key_file"]

KEY_FILE_FORMAT = "dualcard-issuer-keys/1"
_ALGORITHMS = {"3des": Algorithm.TDES, "aes": Algorithm.AES, "sm4": Algorithm.SM4}


class CardKeyStore(Protocol):
    """Where a verifier gets a card's keys; ``None`` when the card is unknown."""

    algorithm: Algorithm

    def tac_key_of(self, card_id: str, purse: Asset) -> bytes | None: ...

    def ac_master_key_of(self, card_id: str, application: str) -> bytes | None: ...


@dataclass(frozen=True)
class CardKeys:
    """One card's keys."""

    dtk: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # by purse name
    ac_mk: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # application


class StaticKeyStore:
    """Card keys held in memory."""

    def __init__(self, cards: Mapping[str, CardKeys], algorithm: Algorithm = Algorithm.TDES):
        self.algorithm = algorithm
        self._cards = dict(cards)

    def __repr__(self) -> str:
        return f"StaticKeyStore({len(self._cards)} cards, {self.algorithm.value})"

    def tac_key_of(self, card_id: str, purse: Asset) -> bytes | None:
        keys = self._cards.get(card_id)
        if keys is None:
            return None
        return keys.dtk.get(purse.value)

    def ac_master_key_of(self, card_id: str, application: str) -> bytes | None:
        keys = self._cards.get(card_id)
        return None if keys is None else keys.ac_mk.get(application)


def load_key_file(path: str | Path) -> StaticKeyStore:
    """Read a key file (see the module docstring)."""
    return parse_key_data(read_json(path), str(path))


def parse_key_data(data: Any, where: str = "key data") -> StaticKeyStore:
    if not isinstance(data, Mapping) or data.get("format") != KEY_FILE_FORMAT:
        raise ConfigurationError(f"{where}: format must be {KEY_FILE_FORMAT!r}")
    algorithm = _ALGORITHMS.get(str(data.get("algorithm", "3des")).lower())
    if algorithm is None:
        raise ConfigurationError(f"{where}: algorithm must be one of {sorted(_ALGORITHMS)}")
    cards = data.get("cards")
    if not isinstance(cards, Mapping):
        raise ConfigurationError(f"{where}: 'cards' must be an object")
    parsed: dict[str, CardKeys] = {}
    for card_id, entry in cards.items():
        if not isinstance(entry, Mapping):
            raise ConfigurationError(f"{where}: card {card_id} must be an object")
        dtk_map = entry.get("dtk", {})
        if isinstance(dtk_map, str):
            raise ConfigurationError(
                f"{where}: card {card_id} has one DTK for every purse; give each purse its own "
                "(a shared key cannot prove which purse a TAC is for)")
        ac_mk = entry.get("ac_mk", {})
        parsed[str(card_id)] = CardKeys(
            {str(k): _key(v, where, card_id) for k, v in _mapping(dtk_map, where).items()},
            {str(k): _key(v, where, card_id) for k, v in _mapping(ac_mk, where).items()},
        )
    return StaticKeyStore(parsed, algorithm)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: keys must be hex strings or objects of them")
    return value


def _key(value: Any, where: str, card_id: str) -> bytes:
    try:
        key = bytes.fromhex(str(value))
    except ValueError:
        raise ConfigurationError(f"{where}: a key of card {card_id} is not hex") from None
    if len(key) not in (16, 24, 32):
        raise ConfigurationError(f"{where}: a key of card {card_id} has {len(key)} bytes")
    return key
