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
from typing import Any, Protocol, runtime_checkable

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.emv import EMVScheme
from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.padding import pad_method2
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

    A clearing run meets thousands of cards once each, more than the shared cipher cache of
    :mod:`apdu_specs.crypto.ciphers` holds, so this verifier keeps each card's TAC cipher
    itself (up to ``cache_size`` cards, least recently used dropped first). An unknown card, a
    missing key or a malformed field verifies as False.
    """

    def __init__(self, keys: CardKeyStore, *, cache_size: int = 200_000) -> None:
        self._keys = keys
        self._purse = PurseScheme(keys.algorithm)
        self._emv = EMVScheme(keys.algorithm)
        self._cache_size = cache_size
        self._tac_macs: OrderedDict[tuple[str, Asset], Callable[[bytes], bytes] | None] = (
            OrderedDict()
        )

    def __repr__(self) -> str:
        return f"SoftwareCardVerifier({self._keys!r})"

    def verify_purse_tac(self, record: PurseRecord) -> bool:
        mac = self._tac_mac(record.card_id, record.purse)
        if mac is None:
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
            expected = mac(data)
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
        master_key = self._keys.ac_master_key_of(record.card_id, record.application)
        if master_key is None:
            return False
        try:
            data = CryptogramVersion.ac_input(record.cdol1, record.aip, record.atc, iad, cdol2)
            session_key = self._emv.ac_session_key(master_key, record.atc)
            expected = self._emv.application_cryptogram(session_key, data)
        except (CryptoError, PaymentFormatError, ValueError):
            return False
        return hmac.compare_digest(expected, ac)

    def _tac_mac(self, card_id: str, purse: Asset) -> Callable[[bytes], bytes] | None:
        key = (card_id, purse)
        macs = self._tac_macs
        mac = macs.get(key, _UNSEEN)
        if mac is not _UNSEEN:
            macs.move_to_end(key)
            return mac
        made = self._make_tac_mac(self._keys.tac_key_of(card_id, purse))
        macs[key] = made
        if len(macs) > self._cache_size:
            macs.popitem(last=False)
        return made

    def _make_tac_mac(self, dtk: bytes | None) -> Callable[[bytes], bytes] | None:
        """The purse MAC of :meth:`PurseScheme.mac` on a cipher of this card's own: a first
        seen card costs one cipher object and, on first use, one cipher context."""
        if dtk is None:
            return None
        try:
            tac_key = self._purse.tac_key(dtk)
            if self._purse.algorithm is not Algorithm.TDES:
                cmac = BlockCipher(self._purse.algorithm, tac_key).cmac
                return lambda data: cmac(data)[:_TAC_LENGTH]
            # The PBOC MAC of :func:`apdu_specs.crypto.mac.pboc_mac`: single-DES CBC-MAC,
            # padding method 2, the leftmost 4 bytes of the last block.
            encrypt_cbc = BlockCipher(Algorithm.DES, tac_key).encrypt_cbc
        except (CryptoError, ValueError):
            return None
        return lambda data: encrypt_cbc(pad_method2(data, 8))[-8:-8 + _TAC_LENGTH]


_TAC_LENGTH = 4
_UNSEEN: Any = object()  # a sentinel no cached value (a MAC function or None) can be
