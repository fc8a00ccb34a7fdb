"""Which points a proven sale earns, on which purse, from whom (F2, F10).

One rule for the two places that apply it: the load authoriser, before it lets the card be
credited (MAC2), and clearing, before the ledger is. Both start from a :class:`ProvenSale`,
never from the amount a terminal wrote:

* consumption points are the merchant's own, for a sale at that merchant;
* bank points need a bank-card (debit) sale, credit points a credit-card sale; they are
  awarded by the bank that approved it online (the issuer's record says which) or, for a
  sale the card approved offline, by the bank the terminal names if it is a bank member;
* the points are what the agreement in force gives for the proven amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.backoffice.agreements import Agreement, AgreementBook
from host.backoffice.assets import Asset
from host.backoffice.errors import NotFoundError
from host.backoffice.sale_proof import ProvenSale

__all__ = ["EarnTerms", "earn_terms"]

#: the way of paying each bank purse rewards
_METHOD_OF = {Asset.BANK_POINTS: "debit", Asset.CREDIT_POINTS: "credit"}


@dataclass(frozen=True, slots=True)
class EarnTerms:
    """Who awards the points of one purse for one sale, under which agreement, how many."""

    issuer_id: str
    agreement: Agreement
    points: int


def earn_terms(
    purse: Asset,
    sale: ProvenSale,
    *,
    merchant_id: str,
    named_issuer: str | None,
    group: str,
    banks: frozenset[str],
    agreements: AgreementBook,
    at_micros: int,
) -> EarnTerms | str:
    """The terms of earning on ``purse`` for ``sale`` at ``merchant_id``, or why there are
    none. ``named_issuer`` is the awarding bank as the terminal names it (a claim)."""
    try:
        issuer = _issuer(purse, sale, merchant_id, named_issuer, banks)
        agreement = agreements.find(issuer, group, purse, at_micros)
    except _NoEarning as refusal:
        return refusal.reason
    except NotFoundError:
        return "no_agreement"
    return EarnTerms(issuer, agreement, agreement.points_for(sale.amount_fen))


class _NoEarning(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _issuer(purse: Asset, sale: ProvenSale, merchant_id: str, named: str | None,
            banks: frozenset[str]) -> str:
    """The awarding member's id (:class:`_NoEarning` with the reason if there is none)."""
    if purse is Asset.CONSUMPTION_POINTS:
        if named not in (None, merchant_id):
            raise _NoEarning("consumption_points_issued_by_other_merchant")
        if sale.merchant_id not in (None, merchant_id):
            raise _NoEarning("sale_at_another_merchant")
        return merchant_id
    if sale.method != _METHOD_OF[purse]:
        raise _NoEarning(f"{purse.value}_need_a_{_METHOD_OF[purse]}_card_sale")
    issuer = sale.issuer_id or named or ""
    if named is not None and named != issuer:
        raise _NoEarning("points_issuer_is_not_the_approving_bank")
    if issuer not in banks:
        raise _NoEarning("unknown_bank_issuer")
    return issuer
