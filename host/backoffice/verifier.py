"""How clearing proves that a card record is genuine before posting it.

The back office never trusts a terminal's word: every chip-2 record carries the card's TAC
(computed with a key only the issuer knows) and every chip-1 payment its application
cryptogram. A :class:`CardVerifier` checks them; clearing depends only on this interface, so
an HSM-backed verifier or the chip code's own can be plugged in unchanged.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.emv import EMVScheme
from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.purse import LOAD_EP, PURCHASE_EP, PurseScheme
from apdu_specs.payment.cryptogram import CryptogramVersion
from apdu_specs.payment.errors import PaymentFormatError
from host.backoffice.assets import Asset
from host.backoffice.card_keys import CardKeyStore
from host.records.batch import PaymentRecord, PurseRecord

__all__ = ["CardVerifier", "SoftwareCardVerifier"]


@runtime_checkable
class CardVerifier(Protocol):
    """Checks card-made MACs; must answer False (never raise) for a wrong or unknown MAC."""

    def verify_purse_tac(self, record: PurseRecord) -> bool:
        """True if ``record.tac`` is the TAC the card computes over the record's fields."""
        ...

    def verify_payment_cryptogram(self, record: PaymentRecord) -> bool:
        """True if ``record.arqc`` is the card's first cryptogram over CDOL1 data, AIP, ATC
        and IAD."""
        ...

    def verify_final_cryptogram(self, record: PaymentRecord) -> bool:
        """True if ``record.final_ac`` is the card's second cryptogram over CDOL1 data, CDOL2
        data, AIP, ATC and the final IAD."""
        ...


class SoftwareCardVerifier:
    """Verifies TACs and cryptograms in software with the issuer's card keys, using the same
    functions the cards use (:mod:`apdu_specs.crypto.purse`, :mod:`apdu_specs.crypto.emv`).

    A clearing run meets thousands of cards, each a few times: the verifier keeps the
    ciphers of the card keys it used (each card's TAC key and cryptogram master key), up to
    ``cache_size`` of them, least recently used dropped first. They are the verifier's own and
    go with it. An unknown card, a missing key or a malformed field verifies as False.
    """

    def __init__(self, keys: CardKeyStore, *, cache_size: int = 200_000) -> None:
        self._keys = keys
        self._purse = PurseScheme(keys.algorithm)
        self._emv = EMVScheme(keys.algorithm)
        # the purse MAC of the 3DES suite is single DES under the DTK's halves folded
        self._tac_algorithm = Algorithm.DES if keys.algorithm is Algorithm.TDES else keys.algorithm
        self._cache_size = cache_size
        self._ciphers: OrderedDict[_Entry, BlockCipher | None] = OrderedDict()

    def __repr__(self) -> str:
        return f"SoftwareCardVerifier({self._keys!r})"

    def verify_purse_tac(self, record: PurseRecord) -> bool:
        cipher = self._cipher((record.card_id, record.purse.value), self._tac_cipher)
        if cipher is None:
            return False
        try:
            when = bytes.fromhex(record.date + record.time)
            if record.kind == "load":
                data = self._purse.load_tac_data(
                    record.balance_after or 0, record.card_seq, record.amount, LOAD_EP,
                    record.terminal_id, when,
                )
            else:
                data = self._purse.purchase_tac_data(
                    record.amount, PURCHASE_EP, record.terminal_id, record.terminal_seq or 0,
                    when,
                )
            expected = self._purse.mac(cipher, data)
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
        """Whether ``ac`` is this card's cryptogram at the record's ATC over what the cards
        cover (:meth:`CryptogramVersion.ac_input`): CDOL1 data [‖ CDOL2 data] ‖ AIP ‖ ATC ‖ IAD."""
        master_key = self._cipher((record.card_id, _AC + record.application), self._ac_cipher)
        if master_key is None:
            return False
        try:
            data = CryptogramVersion.ac_input(record.cdol1, record.aip, record.atc, iad, cdol2)
            session_key = self._emv.ac_session_key(master_key, record.atc)
            expected = self._emv.application_cryptogram(session_key, data)
        except (CryptoError, PaymentFormatError, ValueError):
            return False
        return hmac.compare_digest(expected, ac)

    def _cipher(self, key: _Entry, make: Callable[[_Entry], BlockCipher | None]
                ) -> BlockCipher | None:
        """The cipher of one key of one card (None: no such key), made on first use."""
        ciphers = self._ciphers
        cipher = ciphers.get(key, _UNSEEN)
        if cipher is not _UNSEEN:
            ciphers.move_to_end(key)
            return cipher  # type: ignore[return-value]
        made = ciphers[key] = make(key)
        if len(ciphers) > self._cache_size:
            ciphers.popitem(last=False)
        return made

    def _tac_cipher(self, entry: _Entry) -> BlockCipher | None:
        card_id, purse = entry
        dtk = self._keys.tac_key_of(card_id, Asset(purse))
        if dtk is None:
            return None
        try:
            return BlockCipher(self._tac_algorithm, self._purse.tac_key(dtk))
        except (CryptoError, ValueError):
            return None

    def _ac_cipher(self, entry: _Entry) -> BlockCipher | None:
        card_id, which = entry
        master_key = self._keys.ac_master_key_of(card_id, which.removeprefix(_AC))
        if master_key is None:
            return None
        try:
            return BlockCipher(self._emv.algorithm, master_key)
        except (CryptoError, ValueError):
            return None


_AC = "ac/"
#: a key of a card: (card id, its purse's name) for a TAC key, (card id,
#: ``ac/<application>``) for a cryptogram master key; strings only, so the collector drops
#: the pairs from its lists instead of rescanning them
_Entry = tuple[str, str]
_UNSEEN = object()
