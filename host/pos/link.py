"""What a terminal asks of the alliance's back office, as one small protocol.

:class:`BackOfficeLink` is everything a POS needs online: the issuer's authorisation of
a chip or stripe payment (with any issuer scripts waiting for the card), the points
calculation of the merchant's agreement, the points issuer's load approvals, redemptions
(points into money or premiums), and the upload of terminal batches. The in-process
implementation is :class:`host.backoffice.inprocess_link.InProcessBackOffice`; a remote one (HTTP,
ISO 8583, a message queue) implements the same methods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from apdu_specs.commands.purse_data import Purse
from apdu_specs.magstripe.tracks import Track2
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse, Decision
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit
from host.points.records import PurseRecord
from host.records.batch import PurseRecord as BatchPurseRecord
from host.records.batch import SaleClaim, TerminalBatch

__all__ = [
    "AdvisingLink",
    "BackOfficeLink",
    "EarnQuote",
    "OnlineAnswer",
    "PaymentMethod",
    "PrepaidLink",
    "PrepaidPayment",
    "RedemptionReceipt",
    "StripeDecision",
    "UploadReceipt",
]


class PaymentMethod(StrEnum):
    """Which chip 1 application pays: the bank (debit) card or the credit card."""

    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def points_purse(self) -> Purse:
        """The chip 2 purse this way of paying earns (F2): bank points or credit points."""
        return Purse.BANK if self is PaymentMethod.DEBIT else Purse.CREDIT


@dataclass(frozen=True)
class OnlineAnswer:
    """The issuer's answer to an ARQC, with the back-office ids of the scripts it carries."""

    response: AuthorisationResponse
    #: issuer scripts queued for this card (e.g. a raised credit limit), to confirm once run
    script_ids: tuple[str, ...] = ()
    #: the credit limit those scripts write to the card, if any
    new_credit_limit: int | None = None


@dataclass(frozen=True)
class StripeDecision:
    """The issuer's decision on a swiped stripe (CVV checked online)."""

    decision: Decision
    reason: str = ""
    #: the issuer's approval id (what a load for this sale must quote); None unless approved
    authorisation_id: str | None = None

    @property
    def approved(self) -> bool:
        return self.decision is Decision.APPROVE


@dataclass(frozen=True)
class EarnQuote:
    """Points a purchase earns on one purse, by the agreement in force (F10)."""

    purse: Purse
    points: int
    #: who awards them: the merchant (consumption points) or the bank (bank/credit points)
    issuer_id: str
    agreement_id: str


@dataclass(frozen=True)
class RedemptionReceipt:
    """Points turned into money on the holder's account, or into an insurance premium."""

    redemption_id: str
    status: str  #: "created", or "exists" when the same redemption was sent before
    points: int
    fen: int
    target: str  #: the account credited (the holder's, or the insurer's)


@dataclass(frozen=True)
class UploadReceipt:
    """The back office's answer to a batch upload."""

    batch_id: str
    status: str  #: "created", or "exists" when the same batch was cleared before
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PrepaidPayment:
    """The back office's answer to a prepaid payment: what was charged to which network
    account, over how many of its sub-cards, and what the account holds after."""

    payment_id: str
    account: str
    charged: int  #: fen (a count card: the uses' price)
    cards: int
    balance: int

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> PrepaidPayment:
        """From the prepaid office's answer (in process, or its JSON over HTTP)."""
        return cls(str(answer["payment"]), str(answer["account"]), int(answer["charged"]),
                   len(answer["draws"]), int(answer["balance"]))

    def to_dict(self) -> dict[str, Any]:
        return {"payment": self.payment_id, "account": self.account, "charged": self.charged,
                "cards": self.cards, "balance": self.balance}


@runtime_checkable
class PrepaidLink(Protocol):
    """A link that takes prepaid payments (the service's HTTP door, or in process)."""

    def pay_prepaid(self, *, request_id: str, card_id: str, amount: int, merchant_id: str,
                    program: str | None = None) -> PrepaidPayment:
        """Pay ``amount`` from the account the card's holder has in ``merchant_id``'s
        program (``program`` names it among several); the same request id posts once."""
        ...


@runtime_checkable
class AdvisingLink(Protocol):
    """A link that tells the issuer of sales the card approved offline, and undoes an
    approval the card then declined (a network link's advices and reversals; in process
    the batch upload is the only word the back office needs, and an approval holds
    nothing)."""

    def advise_offline_sale(self, request: AuthorisationRequest, *, card_id: str,
                            method: PaymentMethod) -> None:
        """Queue the advice of an offline approval; forwarded when the issuer is reachable."""
        ...

    def reverse_authorisation(self, request: AuthorisationRequest) -> None:
        """The issuer approved ``request`` but the card declined (or refused the ARPC):
        release what the approval holds."""
        ...


@runtime_checkable
class BackOfficeLink(Protocol):
    """The terminal's online partner: issuer, points issuer, points calculation, clearing."""

    def authorise(self, request: AuthorisationRequest, *, card_id: str,
                  method: PaymentMethod) -> OnlineAnswer:
        """Verify the ARQC, decide, answer with the ARPC and any scripts for this card."""
        ...

    def scripts_delivered(self, script_ids: Sequence[str], *, at: dt.datetime) -> None:
        """The card ran these scripts successfully: do not send them again."""
        ...

    def authorise_stripe(self, track2: Track2, amount: int, *,
                         card_id: str | None = None) -> StripeDecision:
        """Decide on a stripe transaction (the CVV is checked by the issuer); ``card_id`` is
        the chip-2 card the holder presented, whose points the sale may earn."""
        ...

    def earn_quotes(self, *, merchant_id: str, card_id: str, method: PaymentMethod | None,
                    purchase_fen: int, at: dt.datetime) -> list[EarnQuote]:
        """The points a purchase earns: consumption points from the merchant, bank or
        credit points from the bank for a chip payment by debit or credit."""
        ...

    def load_key_index(self, card_id: str, purse: Purse) -> int:
        """The key index INITIALIZE FOR LOAD must name for this card's purse."""
        ...

    def authorize_load(self, card_id: str, init: LoadInit, when: dt.datetime, *,
                       sale: SaleClaim) -> LoadAuthorization:
        """The points issuer checks MAC1 and answers MAC2, only for a proven ``sale`` of this
        card, at most the points its agreement gives, once per sale and purse (a
        :class:`~host.records.errors.BackOfficeError` names why not)."""
        ...

    def confirm_load(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        """The load's record once its TAC checks (``PurseMACError`` otherwise)."""
        ...

    def redeem(self, *, redemption_id: str, card_id: str, purse: Purse, points: int,
               at: dt.datetime, debit: BatchPurseRecord, insurer_id: str | None = None,
               policy: str | None = None) -> RedemptionReceipt:
        """Points spent on the card become money for the holder, or a premium (F5, F20).

        ``debit`` is the card's proof that the points left it (the purchase record with its
        TAC, made at this terminal): one debit pays for one redemption, and never also for a
        purchase at a merchant. ``redemption_id`` is the terminal's reference; the back
        office keys the redemption by the debit."""
        ...

    def upload(self, batch: TerminalBatch, *, at: dt.datetime) -> UploadReceipt:
        """Clear a terminal batch; the same batch twice is answered ``exists``."""
        ...
