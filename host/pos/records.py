"""What a terminal learns and decides in one transaction, as plain records.

These are what :class:`~host.pos.terminal.Terminal` returns, what the journal keeps
(as JSON, :meth:`to_dict` / :meth:`from_dict`) and what a slip is printed from.
Amounts are fen, points are whole points, binary fields are bytes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from apdu_specs.commands.purse_data import Purse
from host.records.batch import PurseRecord as BatchPurseRecord
from host.records.batch import SaleClaim, record_to_dict

from .link import PaymentMethod, RedemptionReceipt

__all__ = [
    "EntryMode",
    "Holder",
    "IdentityCheck",
    "PinCheck",
    "PointsMovement",
    "PointsResult",
    "SaleResult",
    "TxnKind",
    "TxnStatus",
]


class TxnKind(StrEnum):
    SALE = "sale"  #: a purchase paid by chip 1 (or the stripe), points earned on chip 2
    POINTS = "points"  #: points spent at the merchant
    CONVERSION = "conversion"  #: points turned into money on the holder's bank account
    PREMIUM = "premium"  #: points paying an insurance premium
    IDENTITY = "identity"  #: holder identification only (no money moves)
    PREPAID = "prepaid"  #: paid online from the holder's prepaid account (chip 1 identifies)


class TxnStatus(StrEnum):
    STARTED = "started"  #: recorded, not finished
    APPROVED = "approved"
    DECLINED = "declined"
    REFERRAL = "referral"  #: the issuer wants a voice referral: declined at the terminal
    INCOMPLETE = "incomplete"  #: the card went away; see the stage and reconcile
    VOIDED = "voided"  #: found not done when reconciled (nothing moved)

    @property
    def final(self) -> bool:
        return self not in (TxnStatus.STARTED, TxnStatus.INCOMPLETE)


class EntryMode(StrEnum):
    CHIP = "chip"
    FALLBACK = "fallback"  #: the stripe, after the chip failed


@dataclass(frozen=True)
class Holder:
    """Who the card says the holder is (F7): never the full PAN."""

    masked_pan: str
    name: str
    application: str = ""  #: the application label, or "STRIPE"
    method: PaymentMethod | None = None
    card_id: str | None = None  #: the card identity (chip 2) the alliance knows the holder by

    def to_dict(self) -> dict[str, Any]:
        return {"masked_pan": self.masked_pan, "name": self.name, "application": self.application,
                "method": self.method.value if self.method else None, "card_id": self.card_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Holder:
        method = data.get("method")
        return cls(data["masked_pan"], data["name"], data.get("application", ""),
                   PaymentMethod(method) if method else None, data.get("card_id"))


@dataclass(frozen=True)
class PinCheck:
    """The PIN step: verified, wrong with tries left, blocked, or not asked."""

    verified: bool
    tries_left: int | None = None
    blocked: bool = False
    asked: bool = True

    @property
    def status(self) -> str:
        if not self.asked:
            return "not required"
        if self.verified:
            return "verified"
        return "blocked" if self.blocked else "wrong"

    def describe(self) -> str:
        if self.status == "wrong" and self.tries_left is not None:
            return f"wrong PIN, {self.tries_left} tries left"
        return {"blocked": "PIN blocked", "verified": "PIN verified"}.get(self.status,
                                                                        self.status)


@dataclass(frozen=True)
class IdentityCheck:
    """Identity confirmation (F7): the holder as the card shows them, and the PIN step."""

    holder: Holder
    pin: PinCheck

    @property
    def confirmed(self) -> bool:
        """The holder proved who they are (or the card does not ask for a PIN)."""
        return self.pin.verified or not self.pin.asked


@dataclass(frozen=True)
class PointsMovement:
    """Points that moved on chip 2, proven by the card's TAC."""

    purse: Purse
    points: int  #: positive: earned; negative: spent
    balance_after: int
    tac: bytes
    issuer_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"purse": self.purse.label, "points": self.points,
                "balance_after": self.balance_after, "tac": self.tac.hex().upper(),
                "issuer": self.issuer_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PointsMovement:
        return cls(Purse.named(data["purse"]), data["points"], data["balance_after"],
                   bytes.fromhex(data["tac"]), data.get("issuer"))


def _iso(when: dt.datetime) -> str:
    return when.isoformat()


@dataclass
class SaleResult:
    """A purchase: chip 1's outcome and the points it earned."""

    txn_id: str
    status: TxnStatus
    amount: int
    when: dt.datetime
    entry: EntryMode = EntryMode.CHIP
    holder: Holder | None = None
    pin: PinCheck | None = None
    arc: bytes | None = None
    atc: int | None = None
    cryptogram: bytes | None = None  #: the final application cryptogram (TC or AAC)
    points: list[PointsMovement] = field(default_factory=list)
    #: the chip's failure that led to the stripe (fallback only)
    chip_error: str | None = None
    #: the credit limit an issuer script wrote to chip 1 in this transaction
    credit_limit: int | None = None
    message: str = ""
    #: the holder's order this sale pays for (printed on the merchant's order slip)
    order: dict[str, Any] | None = None
    #: what proves the sale to the points issuer (the payment record, or the issuer's
    #: approval id of a swiped sale); not journaled: the records are
    proof: SaleClaim | None = field(default=None, repr=False)

    @property
    def approved(self) -> bool:
        return self.status is TxnStatus.APPROVED

    @property
    def fallback(self) -> bool:
        return self.entry is EntryMode.FALLBACK

    def to_dict(self) -> dict[str, Any]:
        return {
            "txn_id": self.txn_id, "kind": TxnKind.SALE.value, "status": self.status.value,
            "amount": self.amount, "when": _iso(self.when), "entry": self.entry.value,
            "fallback": self.fallback, "holder": self.holder.to_dict() if self.holder else None,
            "pin": self.pin.status if self.pin else None,
            "arc": self.arc.decode("ascii", "replace") if self.arc else None,
            "atc": self.atc, "cryptogram": self.cryptogram.hex().upper() if self.cryptogram else None,
            "points": [p.to_dict() for p in self.points], "chip_error": self.chip_error,
            "credit_limit": self.credit_limit, "message": self.message, "order": self.order,
        }


@dataclass
class PointsResult:
    """Points spent from chip 2: at the merchant, converted, or paying a premium."""

    txn_id: str
    kind: TxnKind
    status: TxnStatus
    purse: Purse
    points: int
    when: dt.datetime
    holder: Holder | None = None
    movement: PointsMovement | None = None
    redemption: RedemptionReceipt | None = None
    message: str = ""
    insurer_id: str | None = None  #: premium: the insurer paid
    policy: str | None = None  #: premium: the policy number
    #: the card's debit (purchase record with its TAC) that pays for a redemption
    debit: BatchPurseRecord | None = None

    @property
    def approved(self) -> bool:
        return self.status is TxnStatus.APPROVED

    def to_dict(self) -> dict[str, Any]:
        redemption = self.redemption
        return {
            "txn_id": self.txn_id, "kind": self.kind.value, "status": self.status.value,
            "purse": self.purse.label, "points": self.points, "when": _iso(self.when),
            "holder": self.holder.to_dict() if self.holder else None,
            "movement": self.movement.to_dict() if self.movement else None,
            "redemption": None if redemption is None else {
                "id": redemption.redemption_id, "status": redemption.status,
                "points": redemption.points, "fen": redemption.fen, "target": redemption.target},
            "message": self.message, "insurer_id": self.insurer_id, "policy": self.policy,
            "debit": record_to_dict(self.debit) if self.debit else None,
        }
