"""The back office's card verifier over a key provider: TACs and cryptograms checked where
the issuer's master keys are (a token: every card key derived and used inside it).

It is a :class:`~host.backoffice.verifier.CardVerifier` like the software one, so clearing
runs unchanged. It holds master keys, not card keys: the purse TAC master (each card's DTK
is derived from it and the card identity) and the EMV AC master (each card's ICC master key
from its PAN and PSN, which the *card register* — public data — gives per card and
application). A wrong MAC, an unknown card or a malformed field verifies as False; a
missing master key or a token that fails is an error, not a rejected record.
"""

from __future__ import annotations

import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.purse import LOAD_EP, PURCHASE_EP, PurseScheme
from apdu_specs.payment.cryptogram import CryptogramVersion
from apdu_specs.payment.errors import PaymentFormatError
from host.files import read_json
from host.records.assets import PURSE_ASSETS
from host.records.batch import PaymentRecord, PurseRecord

from .errors import CardRegisterError
from .provider import HeldKey, KeyProvider
from .schemes import (
    ac_session_key,
    cryptogram_under,
    option_a_data,
    purse_tac_key,
    purse_tac_under,
)

__all__ = ["CARD_REGISTER_FORMAT", "CardRegister", "ProviderCardVerifier", "load_card_register"]

CARD_REGISTER_FORMAT = "dualcard-card-register/1"
#: card id -> application -> (PAN, PSN)
CardRegister = Mapping[str, Mapping[str, tuple[str, str]]]
_PURSES = {asset: purse for purse, asset in PURSE_ASSETS.items()}


class ProviderCardVerifier:
    """Checks card MACs with master keys held by a :class:`KeyProvider`."""

    def __init__(self, provider: KeyProvider, cards: CardRegister | None = None, *,
                 tac_master: str = "purse_tac", ac_master: str = "emv_ac",
                 kept_card_keys: int = 4096) -> None:
        self._provider = provider
        self._cards = dict(cards or {})
        self._names = {"tac": tac_master, "ac": ac_master}
        self._masters: dict[str, HeldKey] = {}
        self._lock = threading.Lock()
        # A clearing run meets the same cards again and again: the card keys derived for them
        # (DTKs, ICC master keys) are kept (in a token: session objects, sensitive, not
        # extractable), the least recently used destroyed first, all of them by close().
        self._card_keys: OrderedDict[tuple[str, str], HeldKey] = OrderedDict()
        self._kept = kept_card_keys

    def close(self) -> None:
        """Destroy the card keys kept (the provider stays open: its owner closes it)."""
        with self._lock:
            while self._card_keys:
                self._provider.discard(self._card_keys.popitem()[1])

    def _card_key(self, entry: tuple[str, str], make: Callable[[], HeldKey]) -> HeldKey:
        """The card key ``entry`` (card id, what for), made by ``make`` on first use."""
        with self._lock:
            kept = self._card_keys
            key = kept.get(entry)
            if key is not None:
                kept.move_to_end(entry)
                return key
            key = kept[entry] = make()
            if len(kept) > self._kept:
                self._provider.discard(kept.popitem(last=False)[1])
            return key

    def __repr__(self) -> str:
        return f"ProviderCardVerifier({self._provider!r}, {len(self._cards)} cards registered)"

    def _master(self, which: str) -> HeldKey:
        """A master key, looked up once (a missing one raises: it is configuration)."""
        with self._lock:
            if which not in self._masters:
                self._masters[which] = self._provider.key(self._names[which])
            return self._masters[which]

    def verify_purse_tac(self, record: PurseRecord) -> bool:
        master = self._master("tac")
        purse = _PURSES.get(record.purse)
        if purse is None:
            return False
        scheme = PurseScheme(master.algorithm)
        try:
            data = _tac_data(scheme, record)
            tac_key = self._card_key((record.card_id, f"tac/{purse.value}"), lambda: purse_tac_key(
                self._provider, master, record.card_id, purse))
            expected = purse_tac_under(self._provider, tac_key, data)
        except (CryptoError, ValueError):
            return False
        return hmac.compare_digest(expected, record.tac)

    def verify_payment_cryptogram(self, record: PaymentRecord) -> bool:
        return self._verify_ac(record, record.arqc, record.iad, b"")

    def verify_final_cryptogram(self, record: PaymentRecord) -> bool:
        if not record.final_ac:
            return False
        return self._verify_ac(record, record.final_ac, record.final_iad, record.cdol2)

    def _verify_ac(self, record: PaymentRecord, ac: bytes, iad: bytes, cdol2: bytes) -> bool:
        card = self._cards.get(record.card_id, {}).get(record.application)
        if card is None:
            return False
        master = self._master("ac")
        try:
            data = CryptogramVersion.ac_input(record.cdol1, record.aip, record.atc, iad, cdol2)
            mk = self._card_key((record.card_id, f"ac/{record.application}"),
                                lambda: self._provider.derive(master, option_a_data(master, *card)))
            with ac_session_key(self._provider, mk, record.atc) as sk:
                expected = cryptogram_under(self._provider, sk, data)
        except (CryptoError, PaymentFormatError, ValueError):
            return False
        return hmac.compare_digest(expected, ac)


def _tac_data(scheme: PurseScheme, record: PurseRecord) -> bytes:
    when = bytes.fromhex(record.date + record.time)
    if record.kind == "load":
        return scheme.load_tac_data(record.balance_after or 0, record.card_seq, record.amount,
                                    LOAD_EP, record.terminal_id, when)
    return scheme.purchase_tac_data(record.amount, PURCHASE_EP, record.terminal_id,
                                    record.terminal_seq or 0, when)


def load_card_register(path: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """Read a card register: ``{"format": "dualcard-card-register/1", "cards": {"<card id>":
    {"debit": {"pan": "...", "psn": "01"}, ...}}}`` (public data: no keys)."""
    data: Any = read_json(path, expect=dict)
    if data.get("format") != CARD_REGISTER_FORMAT or not isinstance(data.get("cards"), dict):
        raise CardRegisterError(f"{path}: not a card register (format {CARD_REGISTER_FORMAT!r})")
    register: dict[str, dict[str, tuple[str, str]]] = {}
    for card_id, apps in data["cards"].items():
        if not isinstance(apps, dict):
            raise CardRegisterError(f"{path}: card {card_id} must be an object")
        register[str(card_id)] = {str(app): (str(v.get("pan", "")), str(v.get("psn", "00")))
                                  for app, v in apps.items() if isinstance(v, dict)}
    return register
