"""The terminal's card records in the back office's batch format (``dualcard-terminal-batch/1``).

A sale contributes a ``payment`` record (chip 1's first cryptogram and the CDOL1 data it
covers) and one ``load`` record per purse it earned on; points spent at the merchant are a
``purchase`` record. Record ids are the journal's transaction id plus a suffix, so a
batch rebuilt from the journal is byte-for-byte the batch uploaded before.
"""

from __future__ import annotations

from apdu_specs.commands.purse_data import Purse
from host.payment.client import CryptogramResponse
from host.points.records import PurseRecord
from host.records.assets import PURSE_ASSETS
from host.records.batch import PaymentRecord
from host.records.batch import PurseRecord as BatchPurseRecord

from .link import PaymentMethod

__all__ = ["load_record", "payment_record", "spend_record"]


def payment_record(txn_id: str, card_id: str, method: PaymentMethod, amount: int, atc: int,
                   cryptogram: bytes, cdol1_data: bytes, aip: bytes, iad: bytes,
                   date: str, time: str, *, final: CryptogramResponse | None = None,
                   cdol2_data: bytes = b"") -> PaymentRecord:
    """Chip 1's payment: the first cryptogram (ARQC, or a TC approved offline) and the
    data it covers (CDOL1 data, AIP, and the issuer application data after the ATC), and
    after an ARQC the final cryptogram with the CDOL2 data and IAD it covers."""
    return PaymentRecord(f"{txn_id}-pay", card_id, method.value, amount, atc, cryptogram,
                         cdol1_data, aip, date, time, iad,
                         final.cryptogram if final else b"", cdol2_data if final else b"",
                         final.iad if final else b"")


def _date_time(record: PurseRecord) -> tuple[str, str]:
    return record.when.strftime("%Y%m%d"), record.when.strftime("%H%M%S")


def load_record(txn_id: str, record: PurseRecord, *, purchase_fen: int, issuer_id: str,
                payment_ref: str | None,
                authorisation_ref: str | None = None) -> BatchPurseRecord:
    """A load proven by the card's TAC, naming the sale it rewards (the payment record, or
    the issuer's approval id of a swiped sale)."""
    date, time = _date_time(record)
    purse = Purse(record.purse)
    return BatchPurseRecord(
        f"{txn_id}-load-{purse.label}", "load", record.card_id, PURSE_ASSETS[purse],
        record.amount, record.terminal_id, record.card_seq, date, time, record.tac,
        balance_after=record.balance_after, purchase_fen=purchase_fen, payment_ref=payment_ref,
        issuer_id=None if purse is Purse.CONSUMPTION else issuer_id,
        authorisation_ref=authorisation_ref)


def spend_record(txn_id: str, record: PurseRecord) -> BatchPurseRecord:
    """Points spent at the merchant, proven by the card's TAC."""
    date, time = _date_time(record)
    return BatchPurseRecord(
        f"{txn_id}-spend", "purchase", record.card_id, PURSE_ASSETS[Purse(record.purse)],
        record.amount, record.terminal_id, record.card_seq, date, time, record.tac,
        terminal_seq=record.terminal_seq)
