"""The checks a terminal batch passes before anything is posted (F10, F19): every record's
card is known, its MAC is genuine, its points agree with the agreement in force, it was not
presented before, and it is a kind of record this merchant may present.

Checks collect reasons instead of raising, so a rejected batch reports every bad record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from host.backoffice.agreements import Agreement, AgreementBook
from host.backoffice.assets import Asset
from host.backoffice.errors import NotFoundError, RecordRejection
from host.backoffice.verifier import CardVerifier
from host.records.batch import PaymentRecord, PurseRecord, TerminalBatch

__all__ = ["CardHolder", "CheckedBatch", "check_batch"]


@dataclass(frozen=True, slots=True)
class CardHolder:
    """The consumer a card belongs to, as clearing needs it."""

    member_id: str
    group: str


@dataclass(slots=True)
class CheckedBatch:
    """Records that passed, with what each earns, or the reasons the batch fails.

    ``txn_keys`` holds each record's :attr:`~records.PurseRecord.txn_key`, in batch order
    (``None`` where the card is unknown), so the card rows reuse them."""

    rejections: list[RecordRejection] = field(default_factory=list)
    earns: list[tuple[PurseRecord, CardHolder, str, Agreement]] = field(default_factory=list)
    redeems: list[tuple[PurseRecord, CardHolder]] = field(default_factory=list)
    payments: list[tuple[PaymentRecord, CardHolder]] = field(default_factory=list)
    txn_keys: list[str | None] = field(default_factory=list)


def check_batch(
    batch: TerminalBatch,
    *,
    merchant_id: str,
    holders: Mapping[str, CardHolder],
    banks: frozenset[str],
    agreements: AgreementBook,
    seen_txns: set[tuple[str, str]],
    verifier: CardVerifier,
    at_micros: int,
) -> CheckedBatch:
    """Check every record; ``seen_txns`` holds (card id, txn key) pairs already cleared."""
    out = CheckedBatch()
    payments = {r.record_id: r for r in batch.records if isinstance(r, PaymentRecord)}
    in_batch: set[tuple[str, str]] = set()
    txn_keys = out.txn_keys
    for record in batch.records:
        holder = holders.get(record.card_id)
        if holder is None:
            txn_keys.append(None)
            out.rejections.append(RecordRejection(record.record_id, "unknown_card"))
            continue
        txn_key = record.txn_key
        txn_keys.append(txn_key)
        key = (record.card_id, txn_key)
        if key in in_batch or key in seen_txns:
            reason: str | None = "duplicate_card_transaction"
        else:
            in_batch.add(key)
            if isinstance(record, PaymentRecord):
                reason = _check_payment(record, verifier)
                if reason is None:
                    out.payments.append((record, holder))
            elif record.kind == "load":
                reason = _check_load(record, holder, merchant_id, banks, agreements, payments,
                                     verifier, at_micros, out)
            else:
                reason = _check_purchase(record, verifier)
                if reason is None:
                    out.redeems.append((record, holder))
        if reason is not None:
            out.rejections.append(RecordRejection(record.record_id, reason))
    return out


def _check_payment(record: PaymentRecord, verifier: CardVerifier) -> str | None:
    if _bcd_amount(record.cdol1[:6]) != record.amount_fen:
        return "amount_differs_from_cryptogram_data"
    if not verifier.verify_payment_cryptogram(record):
        return "bad_cryptogram"
    return None


def _check_load(
    record: PurseRecord,
    holder: CardHolder,
    merchant_id: str,
    banks: frozenset[str],
    agreements: AgreementBook,
    payments: Mapping[str, PaymentRecord],
    verifier: CardVerifier,
    at_micros: int,
    out: CheckedBatch,
) -> str | None:
    if record.purse is Asset.CONSUMPTION_POINTS:
        issuer = merchant_id
        if record.issuer_id not in (None, merchant_id):
            return "consumption_points_issued_by_other_merchant"
    else:
        issuer = record.issuer_id or ""
        if issuer not in banks:
            return "unknown_bank_issuer"
    try:
        agreement = agreements.find(issuer, holder.group, record.purse, at_micros)
    except NotFoundError:
        return "no_agreement"
    purchase_fen: int = record.purchase_fen  # type: ignore[assignment]
    expected = agreement.points_for(purchase_fen)
    if record.amount != expected:
        return f"points_differ_from_agreement:{agreement.id}:expected_{expected}"
    if record.payment_ref is not None:
        payment = payments.get(record.payment_ref)
        if payment is None or payment.card_id != record.card_id:
            return "payment_not_in_batch"
        if payment.amount_fen != purchase_fen:
            return "purchase_differs_from_payment"
    if not verifier.verify_purse_tac(record):
        return "bad_tac"
    out.earns.append((record, holder, issuer, agreement))
    return None


def _check_purchase(record: PurseRecord, verifier: CardVerifier) -> str | None:
    if record.purse is not Asset.CONSUMPTION_POINTS:
        return "purse_not_redeemable_at_merchant"
    if not verifier.verify_purse_tac(record):
        return "bad_tac"
    return None


def _bcd_amount(data: bytes) -> int | None:
    """EMV n12 amount (9F02): 6 bytes of BCD; None if not BCD."""
    digits = data.hex()
    return int(digits) if len(data) == 6 and digits.isdigit() else None
