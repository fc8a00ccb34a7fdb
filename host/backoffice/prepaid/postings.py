"""The ledger transfers of each prepaid operation, without I/O. Every operation is one
linked chain (all or nothing) whose transfers are numbered from the request's id, so a
retry names the same transfers.

Each movement of card value has its mirror in money: value put on a card is money paid into
the merchant's custody account; value spent, expired or claimed leaves custody the same
moment. That is what lets the daily reconciliation prove cards = custody.

* issue: receipts → custody (principal), merchant → custody (bonus), value → card (each
  card's principal + bonus), merchant → insurer (each card's premium);
* pay: card → value and custody → merchant, per card drawn;
* refund: value → card and merchant → custody, per card of the payment refunded;
* expire: card → value and custody → merchant;
* claim: a hold card → value of the card's whole balance (freezes it); when paid, the hold
  posted, custody → insurer (what the insurer pays), custody → merchant (the rest), and
  insurer → holder (the payout).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from host.backoffice.assets import Asset
from host.backoffice.prepaid import accounts as acc
from host.backoffice.transfers import Reason, Source, Transfer

__all__ = ["Chain"]


@dataclass
class Chain:
    """A linked chain being built for one operation (``op``) of one request."""

    op: str
    request_id: str
    source: Source
    transfers: list[Transfer] = field(default_factory=list)
    #: what every transfer of the chain carries (made once: a claim's chain has 100,000)
    correlation_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.correlation_id = f"pp/{self.op}/{self.request_id}"

    def next_id(self) -> str:
        return f"{self.correlation_id}/{len(self.transfers) + 1}"

    def move(self, debit: str, credit: str, amount: int, reason: Reason,
             details: Mapping[str, int | str]) -> str | None:
        """Add one transfer (none for a zero amount); returns its id."""
        if amount == 0:
            return None
        tid = self.next_id()
        self.transfers.append(Transfer.single(
            tid, debit, credit, amount, Asset.CNY, reason, self.source, linked=True,
            correlation_id=self.correlation_id, details={"prepaid": self.op, **details},
        ))
        return tid

    def hold(self, debit: str, credit: str, amount: int, details: Mapping[str, int | str]) -> str:
        tid = self.next_id()
        self.transfers.append(Transfer.hold(
            tid, debit, credit, amount, Asset.CNY, self.source, linked=True,
            correlation_id=self.correlation_id, details={"prepaid": self.op, **details},
        ))
        return tid

    def post(self, pending_id: str) -> str:
        tid = self.next_id()
        self.transfers.append(Transfer.post(  # its details are the hold's
            tid, pending_id, self.source, linked=True, correlation_id=self.correlation_id,
        ))
        return tid

    def closed(self) -> list[Transfer]:
        """The chain with its last transfer unlinked (a request may not end inside one)."""
        if not self.transfers:
            return []
        last = self.transfers[-1]
        return [*self.transfers[:-1], _unlinked(last)]

    # -- the movements of card value, each with its mirror in custody ------------------------

    def card_in(self, merchant: str, card_no: str, amount: int, *, refund: bool) -> str:
        """Value onto a card: at issue (custody already paid in) or a refund (from the
        merchant back into custody)."""
        details = {"card": card_no}
        if refund:
            self.move(acc.cny(merchant), acc.custody(merchant), amount,
                      Reason.SETTLEMENT_FUNDING, details)
        tid = self.move(acc.value(merchant), acc.card_account(card_no), amount,
                        Reason.DEPOSIT, details)
        assert tid is not None
        return tid

    def card_out(self, merchant: str, card_no: str, amount: int, reason: Reason) -> str:
        """Value off a card (spent or expired), its money released to the merchant."""
        details = {"card": card_no}
        tid = self.move(acc.card_account(card_no), acc.value(merchant), amount, reason, details)
        self.move(acc.custody(merchant), acc.cny(merchant), amount,
                  Reason.SETTLEMENT_PAYOUT, details)
        assert tid is not None
        return tid


def _unlinked(transfer: Transfer) -> Transfer:
    return Transfer(
        transfer.id, transfer.kind, transfer.source, transfer.debit_account,
        transfer.credit_account, transfer.amount, transfer.asset, transfer.reason,
        transfer.pending_id, transfer.expires_at, False, transfer.correlation_id,
        transfer.details,
    )
