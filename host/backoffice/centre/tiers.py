"""The three tiers of a holder's money (F25) as ledger accounts, and the centre's own.

* ``<holder>:virtual`` receives orders and bills; its lower bound is minus the credit line,
  so an order held against it counts against the line (the ledger refuses past it).
* ``<holder>:settlement`` is small and capped: lower bound 0, upper bound the cap. Top-ups
  from the bank are ledger holds crediting it, so a pending top-up already counts against the
  cap and the ledger itself refuses any posting that could take it above.
* the bank account is the bank's (:mod:`.bank`); on this ledger it is seen through
  ``centre:bank`` (money entering from or leaving to banks).

Everything here is plain data and arithmetic: no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from host.backoffice.accounts import AccountSpec
from host.backoffice.assets import MAX_AMOUNT, Asset, check_amount
from host.backoffice.errors import ValidationError

__all__ = [
    "BANK_ACCOUNT",
    "CENTRE_ID",
    "EMPLOYERS_ACCOUNT",
    "VOUCHERS_ACCOUNT",
    "Tier",
    "TierSettings",
    "centre_accounts",
    "holder_accounts",
    "tier_account",
    "yuan",
]

CENTRE_ID = "centre"
#: money from or to the holders' banks (top-ups); unbounded, it stands for the outside
BANK_ACCOUNT = f"{CENTRE_ID}:bank"
#: value of the vouchers sold (a voucher redeemed moves it to the holder)
VOUCHERS_ACCOUNT = f"{CENTRE_ID}:vouchers"
#: salaries arriving from employers' banks
EMPLOYERS_ACCOUNT = f"{CENTRE_ID}:employers"


class Tier(StrEnum):
    VIRTUAL = "virtual"
    SETTLEMENT = "settlement"
    BANK = "bank"


def tier_account(holder_id: str, tier: Tier) -> str:
    """The ledger account of a holder's tier (the bank tier has none here: it is the bank's)."""
    if tier is Tier.BANK:
        raise ValidationError("the bank account is kept by the bank, not on this ledger")
    return f"{holder_id}:{tier.value}"


@dataclass(frozen=True, slots=True)
class TierSettings:
    """A holder's cap and threshold on the settlement account and line on the virtual one."""

    cap: int
    threshold: int
    credit_limit: int

    def __post_init__(self) -> None:
        check_amount(self.cap, what="cap")
        check_amount(self.threshold, allow_zero=True, what="threshold")
        check_amount(self.credit_limit, allow_zero=True, what="credit limit")
        if self.threshold > self.cap:
            raise ValidationError(f"threshold {self.threshold} is above the cap {self.cap}")
        if self.credit_limit > MAX_AMOUNT:
            raise ValidationError("credit limit out of range")


def holder_accounts(holder_id: str, settings: TierSettings) -> list[AccountSpec]:
    """The two ledger accounts of a holder's first tiers."""
    return [
        AccountSpec(tier_account(holder_id, Tier.VIRTUAL), Asset.CNY, "virtual", holder_id,
                    -settings.credit_limit, None),
        AccountSpec(tier_account(holder_id, Tier.SETTLEMENT), Asset.CNY, "settlement",
                    holder_id, 0, settings.cap),
    ]


def centre_accounts() -> list[AccountSpec]:
    """The centre's own accounts: each stands for money outside the ledger, so unbounded."""
    return [AccountSpec(account, Asset.CNY, account.split(":")[1], CENTRE_ID, None, None)
            for account in (BANK_ACCOUNT, VOUCHERS_ACCOUNT, EMPLOYERS_ACCOUNT)]


def yuan(fen: int) -> str:
    """An amount for a person to read: ``1,234.50`` (messages and explanations)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100:,}.{abs(fen) % 100:02d}"
