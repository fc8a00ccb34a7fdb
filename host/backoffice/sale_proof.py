"""What proves a sale: the only ground on which points are ever earned (docs/trust.md).

A terminal says "this card paid this much here". The back office believes it only as far as
the card and the issuer prove it:

* a chip payment is proven by its cryptograms: the first (ARQC, or a TC when the card
  approved offline) over the CDOL1 data, whose amount is the sale's amount; after an ARQC,
  the final one (TC) over CDOL1 and CDOL2 data, whose issuer application data says the card
  answered TC. Both IADs are under their cryptograms, so the card verification results in
  them (first and second GENERATE AC types, "unable to go online") are the card's word.
  An online sale also needs the issuer's own record of approving that ARQC; a sale the card
  approved offline because the terminal could not reach the issuer ("unable to go online"
  in the CVR) stands on the card's risk rules alone, and one the issuer declined is refused
  even if a terminal talked the card into a TC;
* a swiped stripe carries no cryptogram: the issuer's approval record, under the id the
  issuer chose, is the whole proof.

Functions here are pure over their inputs (the verifier and the issuer's record are passed
in): clearing and the load authoriser call the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cvr import CVR
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.iad import IssuerApplicationData
from host.backoffice.authorisations import STRIPE, Authorisation
from host.backoffice.records import PaymentRecord
from host.backoffice.verifier import CardVerifier
from host.payment.errors import CardDataError
from host.payment.issuer import CoveredFacts

__all__ = ["ProvenSale", "payment_outcome", "prove_payment", "prove_stripe_sale"]


@dataclass(frozen=True, slots=True)
class ProvenSale:
    """A sale as far as it is proven, with nothing a terminal merely said."""

    key: str  #: what a load names to be earned once: ``payment:<app>:<ATC>`` / ``auth:<id>``
    card_id: str
    method: str  #: "debit", "credit" or "stripe"
    amount_fen: int  #: from the cryptogram's CDOL1 data, or the issuer's own record
    issuer_id: str | None  #: the bank that approved online (None: the card approved offline)
    merchant_id: str | None  #: the merchant whose terminal asked the issuer (None offline)


def payment_outcome(record: PaymentRecord, verifier: CardVerifier) -> CVR | str:
    """The card's own verdict on a payment record, or the reason it proves nothing.

    Returns the CVR of the cryptogram that ended the transaction, once every cryptogram the
    record carries verifies and the record's amount and date are the ones they cover."""
    if not verifier.verify_payment_cryptogram(record):
        return "bad_cryptogram"
    try:
        facts = CoveredFacts.from_cdol1_data(record.cdol1)
        first = IssuerApplicationData.decode(record.iad).cvr
        final = IssuerApplicationData.decode(record.final_iad).cvr if record.final_ac else None
    except (CardDataError, PaymentFormatError):
        return "cryptogram_data_unreadable"
    if facts.amount != record.amount_fen:
        return "amount_differs_from_cryptogram_data"
    if facts.date is None or facts.date.strftime("%Y%m%d") != record.date:
        return "date_differs_from_cryptogram_data"
    if first.first_ac is not ACType.ARQC:
        if record.final_ac:
            return "second_cryptogram_after_offline_decision"
        return first if first.first_ac is ACType.TC else "declined_by_card"
    if final is None:
        return "not_completed_by_card"
    if not verifier.verify_final_cryptogram(record):
        return "bad_final_cryptogram"
    return final if final.second_ac is ACType.TC else "declined_by_card"


def prove_payment(record: PaymentRecord, verifier: CardVerifier,
                  approval: Authorisation | None) -> ProvenSale | str:
    """The sale a chip payment record proves, or the reason it proves none.

    ``approval`` is the issuer's record for the record's ARQC (None if it never answered it).
    """
    outcome = payment_outcome(record, verifier)
    if isinstance(outcome, str):
        return outcome
    online = outcome.first_ac is ACType.ARQC
    if approval is not None and not approval.approved:
        return "declined_by_issuer"
    if approval is None and online and not outcome.unable_to_go_online:
        return "no_issuer_approval"
    if approval is not None and approval.amount != record.amount_fen:
        return "amount_differs_from_issuer_record"
    return ProvenSale(
        f"payment:{record.application}:{record.atc}", record.card_id, record.application,
        record.amount_fen, approval.issuer_id if approval else None,
        approval.merchant_id if approval else None,
    )


def prove_stripe_sale(card_id: str, approval: Authorisation | None) -> ProvenSale | str:
    """The sale a stripe approval proves for ``card_id``, or the reason it proves none."""
    if approval is None or approval.kind != STRIPE:
        return "no_issuer_approval"
    if not approval.approved:
        return "declined_by_issuer"
    if approval.card_id != card_id:
        return "approval_for_another_card"
    return ProvenSale(f"auth:{approval.id}", card_id, STRIPE, approval.amount,
                      approval.issuer_id, approval.merchant_id)
