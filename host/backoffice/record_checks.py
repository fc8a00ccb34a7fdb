"""The checks a terminal batch passes before anything is posted (F10, F19): every record's
card is known, its MAC is genuine, it was made at the terminal that uploads it, a load
rewards a proven sale once with the points the agreement in force gives for it, it was not
presented before, and it is a kind of record this merchant may present (docs/trust.md).

Checks collect reasons instead of raising, so a rejected batch reports every bad record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from host.backoffice.agreements import Agreement, AgreementBook
from host.backoffice.assets import Asset
from host.backoffice.authorisations import Authorisation
from host.backoffice.earning import earn_terms
from host.backoffice.errors import RecordRejection
from host.backoffice.records import PaymentRecord, PurseRecord, TerminalBatch
from host.backoffice.sale_proof import ProvenSale, prove_payment, prove_stripe_sale
from host.backoffice.verifier import CardVerifier

__all__ = ["CardHolder", "CheckedBatch", "IssuerRecords", "check_batch"]


@dataclass(frozen=True, slots=True)
class CardHolder:
    """The consumer a card belongs to, as clearing needs it."""

    member_id: str
    group: str


@dataclass(frozen=True, slots=True)
class IssuerRecords:
    """What the issuer recorded about the sales a batch names: its answers by ARQC (chip) and
    by approval id (stripe), the sales already rewarded, as (card id, sale key), and the card
    debits that already paid for a redemption, as (card id, txn key)."""

    by_arqc: Mapping[bytes, Authorisation] = field(default_factory=dict)
    by_id: Mapping[str, Authorisation] = field(default_factory=dict)
    rewarded: frozenset[tuple[str, str]] = frozenset()
    redeemed: frozenset[tuple[str, str]] = frozenset()


@dataclass(slots=True)
class CheckedBatch:
    """Records that passed, with what each earns, or the reasons the batch fails.

    ``txn_keys`` holds each record's :attr:`~records.PurseRecord.txn_key`, in batch order
    (``None`` where the card is unknown), so the card rows reuse them; ``sale_keys`` the sale
    each load rewards (``None`` for other records)."""

    rejections: list[RecordRejection] = field(default_factory=list)
    earns: list[tuple[PurseRecord, CardHolder, str, Agreement, ProvenSale]] = field(
        default_factory=list)
    redeems: list[tuple[PurseRecord, CardHolder]] = field(default_factory=list)
    payments_fen: int = 0  # what the card payments that passed add up to
    txn_keys: list[str | None] = field(default_factory=list)
    sale_keys: list[str | None] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Context:
    """What every record of one batch is checked against."""

    merchant_id: str
    terminal: bytes
    banks: frozenset[str]
    agreements: AgreementBook
    verifier: CardVerifier
    issuer: IssuerRecords
    sales: Mapping[str, ProvenSale | str]  # payment record id -> its proof or why none
    at_micros: int


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
    issuer: IssuerRecords | None = None,
) -> CheckedBatch:
    """Check every record; ``seen_txns`` holds (card id, txn key) pairs already cleared."""
    issuer = issuer or IssuerRecords()
    out = CheckedBatch()
    sales: dict[str, ProvenSale | str] = {
        r.record_id: prove_payment(r, verifier, issuer.by_arqc.get(r.arqc))
        for r in batch.records if isinstance(r, PaymentRecord)
    }
    ctx = _Context(merchant_id, bytes.fromhex(batch.terminal_id), banks, agreements, verifier,
                   issuer, sales, at_micros)
    in_batch: set[tuple[str, str]] = set()
    for record in batch.records:
        holder = holders.get(record.card_id)
        if holder is None:
            out.txn_keys.append(None)
            out.sale_keys.append(None)
            out.rejections.append(RecordRejection(record.record_id, "unknown_card"))
            continue
        key = (record.card_id, record.txn_key)
        out.txn_keys.append(key[1])
        out.sale_keys.append(None)
        if key in in_batch or key in seen_txns:
            reason: str | None = "duplicate_card_transaction"
        else:
            in_batch.add(key)
            reason = _check_record(record, holder, ctx, in_batch, out)
        if reason is not None:
            out.rejections.append(RecordRejection(record.record_id, reason))
    return out


def _check_record(record: PaymentRecord | PurseRecord, holder: CardHolder, ctx: _Context,
                  in_batch: set[tuple[str, str]], out: CheckedBatch) -> str | None:
    if isinstance(record, PaymentRecord):
        sale = ctx.sales[record.record_id]
        if isinstance(sale, str):
            return sale
        out.payments_fen += record.amount_fen
        return None
    if record.terminal_id != ctx.terminal:
        return "terminal_differs_from_batch"
    if record.kind == "load":
        return _check_load(record, holder, ctx, in_batch, out)
    if record.purse is not Asset.CONSUMPTION_POINTS:
        return "purse_not_redeemable_at_merchant"
    if (record.card_id, record.txn_key) in ctx.issuer.redeemed:
        return "debit_already_redeemed"
    if not ctx.verifier.verify_purse_tac(record):
        return "bad_tac"
    out.redeems.append((record, holder))
    return None


def _sale_of(record: PurseRecord, ctx: _Context) -> ProvenSale | str:
    """The proven sale a load rewards, or why there is none."""
    if record.payment_ref is not None:
        sale = ctx.sales.get(record.payment_ref)
        if sale is None:
            return "payment_not_in_batch"
        if isinstance(sale, str):
            return f"sale_{sale}"
    elif record.authorisation_ref is not None:
        sale = prove_stripe_sale(record.card_id, ctx.issuer.by_id.get(record.authorisation_ref))
        if isinstance(sale, str):
            return f"sale_{sale}"
    else:
        return "load_without_sale"
    return sale if sale.card_id == record.card_id else "payment_of_another_card"


def _check_load(record: PurseRecord, holder: CardHolder, ctx: _Context,
                in_batch: set[tuple[str, str]], out: CheckedBatch) -> str | None:
    sale = _sale_of(record, ctx)
    if isinstance(sale, str):
        return sale
    if record.purchase_fen is not None and record.purchase_fen != sale.amount_fen:
        return "purchase_differs_from_payment"
    terms = earn_terms(record.purse, sale, merchant_id=ctx.merchant_id,
                       named_issuer=record.issuer_id, group=holder.group, banks=ctx.banks,
                       agreements=ctx.agreements, at_micros=ctx.at_micros)
    if isinstance(terms, str):
        return terms
    if record.amount != terms.points:
        return f"points_differ_from_agreement:{terms.agreement.id}:expected_{terms.points}"
    sale_key = (record.card_id, f"earn:{record.purse.value}:{sale.key}")
    if sale_key in in_batch or sale_key in ctx.issuer.rewarded:
        return "sale_already_rewarded"
    if not ctx.verifier.verify_purse_tac(record):
        return "bad_tac"
    in_batch.add(sale_key)
    out.sale_keys[-1] = sale_key[1]
    out.earns.append((record, holder, terms.issuer_id, terms.agreement, sale))
    return None
