"""What a client asks the ledger to do (a transfer request) and what it answered.

Modelled on TigerBeetle's transfers: a client-supplied id makes every request idempotent; a
*pending* transfer reserves an amount, and a later transfer that names it with ``pending_id``
posts it (in full or in part) or voids it; ``linked`` chains succeed or fail together.
Every transfer carries a reason code and its source so a holder can always see why points
moved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from apdu_specs.caches import pure_cache
from host.backoffice.assets import MAX_AMOUNT, Asset, check_amount
from host.backoffice.clock import require_aware
from host.backoffice.errors import ValidationError
from host.records.ids import check_id

__all__ = [
    "Balance",
    "Reason",
    "Source",
    "SourceKind",
    "Transfer",
    "TransferCode",
    "TransferKind",
    "TransferResult",
    "check_id",
]

class TransferKind(StrEnum):
    """How a transfer moves balances."""

    SINGLE = "single"  # posted at once
    PENDING = "pending"  # reserves; moves *_pending only
    POST_PENDING = "post"  # posts (part of) a pending transfer
    VOID_PENDING = "void"  # releases a pending transfer
    EXPIRE_PENDING = "expire"  # made by the ledger when a hold passes its expiry time


class Reason(StrEnum):
    """Why value moved. Shown on statements; stored on every transfer."""

    EARN = "earn"  # points awarded by an issuer (merchant, bank) to a card holder
    REDEEM = "redeem"  # points spent at a merchant
    MERCHANT_CREDIT = "merchant_credit"  # two-way points: credit points for points awarded
    CARD_PAYMENT = "card_payment"  # chip-1 credit payment drawn on a credit line
    SETTLEMENT_FUNDING = "settlement_funding"  # merchant pays for points it issued
    SETTLEMENT_PAYOUT = "settlement_payout"  # merchant reimbursed for points redeemed at it
    CONVERSION = "conversion"  # points exchanged for money
    CONVERSION_FEE = "conversion_fee"
    PREMIUM = "premium"  # points paying an insurance premium
    HOLD = "hold"  # a reservation (authorisation, escrow)
    RELEASE = "release"  # a reservation posted, voided or expired
    DEPOSIT = "deposit"  # money entering the alliance from outside
    WITHDRAWAL = "withdrawal"  # money leaving the alliance
    ADJUSTMENT = "adjustment"  # an operator's correction, always with a memo
    # the settlement centre (host.backoffice.centre)
    TOP_UP = "top_up"  # a bank or voucher top-up of a holder's account
    REPAYMENT = "repayment"  # the settlement account paying down the virtual account
    ORDER_PAYMENT = "order_payment"  # an escrowed order, held then released to the merchant
    BILL_PAYMENT = "bill_payment"  # a bill paid to a registered biller
    PAYROLL = "payroll"  # a salary credited by an employer's batch
    OWN_TRANSFER = "own_transfer"  # between two accounts of the same holder


class SourceKind(StrEnum):
    """Who or what originated a transfer."""

    TERMINAL = "terminal"
    CARD = "card"
    BATCH = "batch"
    MERCHANT = "merchant"
    MEMBER = "member"
    OPERATOR = "operator"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Source:
    """The origin of a transfer: a kind and an id within that kind (``terminal/T001``)."""

    kind: SourceKind
    id: str

    def __post_init__(self) -> None:
        if not isinstance(self.kind, SourceKind):
            raise ValidationError(f"source kind must be a SourceKind, got {self.kind!r}")
        check_id(self.id, "source id")

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.id}"


@pure_cache(maxsize=1024)
def _check_correlation_id(correlation_id: str) -> None:
    """Every transfer of one operation carries its correlation id (a claim's 100,000 holds
    one): checked once while it is recent (a refused id raises, and is never cached)."""
    check_id(correlation_id, "correlation id")


_EMPTY: Mapping[str, int | str] = MappingProxyType({})
_DETAIL_TYPES = (int, str)


def _frozen(details: Mapping[str, int | str] | None) -> Mapping[str, int | str]:
    """A read-only copy with sorted keys; values are int or str (never bool or float)."""
    if not details:
        return _EMPTY
    items = sorted(details.items())
    for key, value in items:
        if type(key) is not str or type(value) not in _DETAIL_TYPES:
            raise ValidationError(f"details must map str to int or str, got {key!r}: {value!r}")
    return MappingProxyType(dict(items))


@dataclass(frozen=True, slots=True)
class Transfer:
    """One transfer request. Build it with :meth:`single`, :meth:`hold`, :meth:`post` or
    :meth:`void`; the constructor validates everything that can be checked without a database.

    For post/void, ``debit_account``, ``credit_account``, ``asset`` and ``reason`` may be left
    ``None`` (inherited from the pending transfer) or must equal the pending transfer's.
    ``amount=None`` on a post means "the full pending amount".
    """

    id: str
    kind: TransferKind
    source: Source
    debit_account: str | None = None
    credit_account: str | None = None
    amount: int | None = None
    asset: Asset | None = None
    reason: Reason | None = None
    pending_id: str | None = None
    expires_at: datetime | None = None
    linked: bool = False
    correlation_id: str | None = None
    details: Mapping[str, int | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_id(self.id, "transfer id")
        if not isinstance(self.kind, TransferKind) or self.kind is TransferKind.EXPIRE_PENDING:
            raise ValidationError(f"transfer {self.id}: kind {self.kind!r} cannot be requested")
        if not isinstance(self.source, Source):
            raise ValidationError(f"transfer {self.id}: source must be a Source")
        if type(self.correlation_id) is str:
            _check_correlation_id(self.correlation_id)
        elif self.correlation_id is not None:
            check_id(self.correlation_id, "correlation id")
        object.__setattr__(self, "details", _frozen(self.details))
        object.__setattr__(self, "linked", bool(self.linked))
        if self.kind in (TransferKind.SINGLE, TransferKind.PENDING):
            self._check_new_movement()
        else:
            self._check_resolution()

    def _check_new_movement(self) -> None:
        # An account id of the wrong shape names no account: the ledger answers
        # debit/credit_account_not_found, so only the type is checked here.
        if type(self.debit_account) is not str or type(self.credit_account) is not str:
            raise ValidationError(f"transfer {self.id}: debit and credit accounts are required")
        if not isinstance(self.asset, Asset):
            raise ValidationError(f"transfer {self.id}: asset must be an Asset")
        if not isinstance(self.reason, Reason):
            raise ValidationError(f"transfer {self.id}: reason must be a Reason")
        amount = self.amount
        if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:  # the message only if due
            check_amount(amount, what=f"transfer {self.id} amount")
        if self.pending_id is not None:
            raise ValidationError(f"transfer {self.id}: pending_id only on post/void")
        if self.expires_at is not None:
            if self.kind is not TransferKind.PENDING:
                raise ValidationError(f"transfer {self.id}: only a hold can expire")
            require_aware(self.expires_at)

    def _check_resolution(self) -> None:
        if self.pending_id is None:
            raise ValidationError(f"transfer {self.id}: post/void needs pending_id")
        check_id(self.pending_id, "pending id")
        for account in (self.debit_account, self.credit_account):
            if account is not None and type(account) is not str:
                raise ValidationError(f"transfer {self.id}: account ids are strings")
        if self.asset is not None and not isinstance(self.asset, Asset):
            raise ValidationError(f"transfer {self.id}: asset must be an Asset")
        if self.reason is not None and not isinstance(self.reason, Reason):
            raise ValidationError(f"transfer {self.id}: reason must be a Reason")
        if self.amount is not None:
            check_amount(self.amount, what=f"transfer {self.id} amount")
        if self.expires_at is not None:
            raise ValidationError(f"transfer {self.id}: only a hold can expire")

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def single(
        cls,
        id: str,
        debit_account: str,
        credit_account: str,
        amount: int,
        asset: Asset,
        reason: Reason,
        source: Source,
        *,
        linked: bool = False,
        correlation_id: str | None = None,
        details: Mapping[str, int | str] | None = None,
    ) -> Transfer:
        """A transfer posted at once."""
        return cls(
            id, TransferKind.SINGLE, source, debit_account, credit_account, amount, asset,
            reason, linked=linked, correlation_id=correlation_id, details=details or {},
        )

    @classmethod
    def hold(
        cls,
        id: str,
        debit_account: str,
        credit_account: str,
        amount: int,
        asset: Asset,
        source: Source,
        *,
        reason: Reason = Reason.HOLD,
        expires_at: datetime | None = None,
        linked: bool = False,
        correlation_id: str | None = None,
        details: Mapping[str, int | str] | None = None,
    ) -> Transfer:
        """A pending transfer: reserves ``amount`` until posted, voided or expired."""
        return cls(
            id, TransferKind.PENDING, source, debit_account, credit_account, amount, asset,
            reason, expires_at=expires_at, linked=linked, correlation_id=correlation_id,
            details=details or {},
        )

    @classmethod
    def post(
        cls,
        id: str,
        pending_id: str,
        source: Source,
        *,
        amount: int | None = None,
        reason: Reason | None = None,
        linked: bool = False,
        correlation_id: str | None = None,
        details: Mapping[str, int | str] | None = None,
    ) -> Transfer:
        """Post a pending transfer: in full (``amount=None``) or in part."""
        return cls(
            id, TransferKind.POST_PENDING, source, amount=amount, reason=reason,
            pending_id=pending_id, linked=linked, correlation_id=correlation_id,
            details=details or {},
        )

    @classmethod
    def void(
        cls,
        id: str,
        pending_id: str,
        source: Source,
        *,
        reason: Reason | None = None,
        linked: bool = False,
        correlation_id: str | None = None,
        details: Mapping[str, int | str] | None = None,
    ) -> Transfer:
        """Release a pending transfer in full."""
        return cls(
            id, TransferKind.VOID_PENDING, source, reason=reason, pending_id=pending_id,
            linked=linked, correlation_id=correlation_id, details=details or {},
        )


class TransferCode(StrEnum):
    """The outcome of one transfer request (TigerBeetle's result names where they exist)."""

    CREATED = "created"
    EXISTS = "exists"
    LINKED_EVENT_FAILED = "linked_event_failed"
    LINKED_EVENT_CHAIN_OPEN = "linked_event_chain_open"
    LINKED_CHAIN_PARTLY_EXISTS = "linked_chain_partly_exists"
    ACCOUNTS_MUST_BE_DIFFERENT = "accounts_must_be_different"
    DEBIT_ACCOUNT_NOT_FOUND = "debit_account_not_found"
    CREDIT_ACCOUNT_NOT_FOUND = "credit_account_not_found"
    ASSET_MISMATCH = "asset_mismatch"
    EXCEEDS_LOWER_BOUND = "exceeds_lower_bound"
    EXCEEDS_UPPER_BOUND = "exceeds_upper_bound"
    EXPIRES_AT_NOT_IN_FUTURE = "expires_at_not_in_future"
    PENDING_TRANSFER_NOT_FOUND = "pending_transfer_not_found"
    PENDING_TRANSFER_NOT_PENDING = "pending_transfer_not_pending"
    PENDING_TRANSFER_ALREADY_POSTED = "pending_transfer_already_posted"
    PENDING_TRANSFER_ALREADY_VOIDED = "pending_transfer_already_voided"
    PENDING_TRANSFER_EXPIRED = "pending_transfer_expired"
    PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT = "pending_transfer_has_different_debit_account"
    PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT = (
        "pending_transfer_has_different_credit_account"
    )
    PENDING_TRANSFER_HAS_DIFFERENT_ASSET = "pending_transfer_has_different_asset"
    PENDING_TRANSFER_HAS_DIFFERENT_REASON = "pending_transfer_has_different_reason"
    PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT = "pending_transfer_has_different_amount"
    EXCEEDS_PENDING_TRANSFER_AMOUNT = "exceeds_pending_transfer_amount"

    @property
    def ok(self) -> bool:
        return self in (TransferCode.CREATED, TransferCode.EXISTS)


class Balance(NamedTuple):
    """An account's balances in minor units. ``posted`` is what the holder has
    (credits minus debits); ``available`` also subtracts what is held against it."""

    account_id: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def posted(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.posted - self.debits_pending

    def as_dict(self) -> dict[str, int | str]:
        return {
            "account": self.account_id,
            "posted": self.posted,
            "available": self.available,
            "debits_posted": self.debits_posted,
            "credits_posted": self.credits_posted,
            "debits_pending": self.debits_pending,
            "credits_pending": self.credits_pending,
        }


class TransferResult(NamedTuple):
    """The answer for one request: its code and the balances of both accounts afterwards
    (for ``exists``: the balances the original posting produced)."""

    id: str
    code: TransferCode
    debit_balance: Balance | None = None
    credit_balance: Balance | None = None

    @property
    def ok(self) -> bool:
        return self.code.ok
