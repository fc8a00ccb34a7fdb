"""Sample cards and a sample terminal for demonstrations, benchmarks and tests: it makes the
records a real chip would make (TACs and ARQCs computed with the same :mod:`apdu_specs`
functions the cards use) from deterministic per-card keys.

The keys derive from a seed with SHA-256; they are test keys, never for a real card.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.emv import EMVScheme
from apdu_specs.crypto.purse import LOAD_EP, PURCHASE_EP, PurseScheme
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cryptogram import CryptogramVersion
from apdu_specs.payment.cvr import CVR
from apdu_specs.payment.iad import IssuerApplicationData
from host.backoffice.assets import Asset
from host.backoffice.card_keys import KEY_FILE_FORMAT, CardKeys, StaticKeyStore
from host.records.batch import PaymentRecord, PurseRecord, TerminalBatch

__all__ = ["SampleCards", "SampleTerminal"]

_PURSES = (Asset.CONSUMPTION_POINTS, Asset.BANK_POINTS, Asset.CREDIT_POINTS)


class SampleCards:
    """Deterministic 3DES test keys for any card id."""

    def __init__(self, seed: str = "dualcard-sample") -> None:
        self.seed = seed
        self._purse = PurseScheme(Algorithm.TDES)
        self._emv = EMVScheme(Algorithm.TDES)
        self._cache: dict[str, CardKeys] = {}

    def keys(self, card_id: str) -> CardKeys:
        if card_id not in self._cache:
            self._cache[card_id] = CardKeys(
                {purse.value: self._derive(card_id, f"dtk-{purse.value}") for purse in _PURSES},
                {"debit": self._derive(card_id, "ac-debit"),
                 "credit": self._derive(card_id, "ac-credit")},
            )
        return self._cache[card_id]

    def key_store(self, card_ids: Iterable[str]) -> StaticKeyStore:
        return StaticKeyStore({c: self.keys(c) for c in card_ids}, Algorithm.TDES)

    def key_file_data(self, card_ids: Iterable[str]) -> dict[str, object]:
        """The JSON form of a key file for these cards."""
        cards = {}
        for card_id in card_ids:
            keys = self.keys(card_id)
            cards[card_id] = {
                "dtk": {purse: key.hex().upper() for purse, key in keys.dtk.items()},
                "ac_mk": {app: key.hex().upper() for app, key in keys.ac_mk.items()},
            }
        return {"format": KEY_FILE_FORMAT, "algorithm": "3des", "cards": cards}

    def _derive(self, card_id: str, label: str) -> bytes:
        return hashlib.sha256(f"{self.seed}|{card_id}|{label}".encode()).digest()[:16]

    def load_tac(self, card_id: str, record: PurseRecord) -> bytes:
        tac_key = self._purse.tac_key(self.keys(card_id).dtk[record.purse.value])
        return self._purse.load_tac(
            tac_key, record.balance_after or 0, record.card_seq, record.amount, LOAD_EP,
            record.terminal_id, bytes.fromhex(record.date + record.time),
        )

    def purchase_tac(self, card_id: str, record: PurseRecord) -> bytes:
        tac_key = self._purse.tac_key(self.keys(card_id).dtk[record.purse.value])
        return self._purse.purchase_tac(
            tac_key, record.amount, PURCHASE_EP, record.terminal_id, record.terminal_seq or 0,
            bytes.fromhex(record.date + record.time),
        )

    def application_cryptogram(self, card_id: str, application: str, atc: int, cdol1: bytes,
                               aip: bytes, iad: bytes) -> bytes:
        """The card's cryptogram over what the cards cover (CDOL1 data, AIP, ATC, IAD)."""
        master_key = self.keys(card_id).ac_mk[application]
        session_key = self._emv.ac_session_key(master_key, atc)
        return self._emv.application_cryptogram(
            session_key, CryptogramVersion.ac_input(cdol1, aip, atc, iad))


@dataclass
class _CardState:
    online_seq: int = 0
    offline_seq: int = 0
    atc: int = 0
    balances: dict[str, int] = field(default_factory=dict)


class SampleTerminal:
    """A merchant terminal that records signed card transactions into a batch."""

    AIP = bytes.fromhex("3C00")
    #: the IAD of a sale the card approves offline at its first GENERATE AC (a TC): DKI 01,
    #: CVN 12 (3DES), CVR "first cryptogram TC, no second"
    IAD_OFFLINE_TC = IssuerApplicationData(1, 0x12, CVR(first_ac=ACType.TC)).encode()
    #: the IAD of a sale the card declines at its first GENERATE AC (an AAC)
    IAD_OFFLINE_AAC = IssuerApplicationData(1, 0x12, CVR(first_ac=ACType.AAC)).encode()

    def __init__(self, terminal_id: str, cards: SampleCards) -> None:
        self.terminal_id = terminal_id
        self._tid = bytes.fromhex(terminal_id)
        self._cards = cards
        self._state: dict[str, _CardState] = {}
        self._records: list[PaymentRecord | PurseRecord] = []
        self._terminal_seq = 0

    def _card(self, card_id: str) -> _CardState:
        return self._state.setdefault(card_id, _CardState())

    def pay(self, card_id: str, amount_fen: int, at: datetime, application: str = "debit", *,
            declined: bool = False) -> str:
        """A chip-1 payment the card approved offline (a TC over the issuer's CDOL1 layout),
        or ``declined`` (an AAC); returns its record id."""
        state = self._card(card_id)
        state.atc += 1
        date, time = at.strftime("%Y%m%d"), at.strftime("%H%M%S")
        cdol1 = (
            bytes.fromhex(f"{amount_fen:012d}") + bytes(6) + bytes.fromhex("0156")
            + bytes(5) + bytes.fromhex("0156") + bytes.fromhex(date[2:]) + b"\x00"
            + hashlib.sha256(f"{card_id}{state.atc}".encode()).digest()[:4]
        )
        record_id = f"r{len(self._records) + 1}"
        iad = self.IAD_OFFLINE_AAC if declined else self.IAD_OFFLINE_TC
        tc = self._cards.application_cryptogram(card_id, application, state.atc, cdol1,
                                                self.AIP, iad)
        self._records.append(PaymentRecord(
            record_id, card_id, application, amount_fen, state.atc, tc, cdol1, self.AIP,
            date, time, iad,
        ))
        return record_id

    def load(
        self,
        card_id: str,
        points: int,
        purchase_fen: int,
        at: datetime,
        *,
        purse: Asset = Asset.CONSUMPTION_POINTS,
        payment_ref: str | None = None,
        issuer_id: str | None = None,
        unpaid: bool = False,
    ) -> str:
        """Points credited to chip 2 for a purchase; returns the record id.

        An honest terminal loads points only for a sale it just made: unless ``payment_ref``
        names one, the sale (``purchase_fen`` paid by the card's debit application, or its
        credit application for credit points) is recorded first. ``unpaid`` leaves it out,
        as only a dishonest terminal would."""
        if payment_ref is None and not unpaid:
            application = "credit" if purse is Asset.CREDIT_POINTS else "debit"
            payment_ref = self.pay(card_id, purchase_fen, at, application)
        state = self._card(card_id)
        balance = state.balances.get(purse.value, 0) + points
        record = PurseRecord(
            f"r{len(self._records) + 1}", "load", card_id, purse, points, self._tid,
            state.online_seq, at.strftime("%Y%m%d"), at.strftime("%H%M%S"), b"\x00" * 4,
            balance_after=balance, purchase_fen=purchase_fen, payment_ref=payment_ref,
            issuer_id=issuer_id,
        )
        record = _with_tac(record, self._cards.load_tac(card_id, record))
        state.online_seq += 1
        state.balances[purse.value] = balance
        self._records.append(record)
        return record.record_id

    def spend(
        self, card_id: str, points: int, at: datetime, *, purse: Asset = Asset.CONSUMPTION_POINTS
    ) -> str:
        """Points debited from chip 2 at this merchant; returns the record id. Like the card,
        refuses to go below zero (the card answers 9401)."""
        state = self._card(card_id)
        if state.balances.get(purse.value, 0) < points:
            raise ValueError(f"card {card_id} holds fewer than {points} {purse.value} (9401)")
        self._terminal_seq += 1
        record = PurseRecord(
            f"r{len(self._records) + 1}", "purchase", card_id, purse, points, self._tid,
            state.offline_seq, at.strftime("%Y%m%d"), at.strftime("%H%M%S"), b"\x00" * 4,
            terminal_seq=self._terminal_seq,
        )
        record = _with_tac(record, self._cards.purchase_tac(card_id, record))
        state.offline_seq += 1
        state.balances[purse.value] = state.balances.get(purse.value, 0) - points
        self._records.append(record)
        return record.record_id

    def card_balance(self, card_id: str, purse: Asset = Asset.CONSUMPTION_POINTS) -> int:
        """The purse balance the card itself holds."""
        return self._card(card_id).balances.get(purse.value, 0)

    def close_batch(self, batch_id: str) -> TerminalBatch:
        """The batch of everything recorded since the last close."""
        batch = TerminalBatch(batch_id, self.terminal_id, tuple(self._records))
        self._records = []
        return batch


def _with_tac(record: PurseRecord, tac: bytes) -> PurseRecord:
    return replace(record, tac=tac)
