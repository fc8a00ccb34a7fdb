"""Ledger accounts: what a client declares (:class:`AccountSpec`) and what the ledger reports
(:class:`Account`). An account holds one asset; its balance is credits minus debits.

Bounds are inclusive limits on that balance: ``lower_bound=0`` means "no overdraft",
``lower_bound=-50_000`` a credit line of 500.00 CNY, ``None`` no limit (operator accounts
that issue value go negative by design). ``upper_bound`` caps it (a prepaid card's legal cap,
a capped settlement account).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from host.backoffice.assets import MAX_AMOUNT, Asset
from host.backoffice.errors import ValidationError
from host.backoffice.transfers import Balance, check_id

__all__ = ["Account", "AccountSpec"]


def _check_bound(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_AMOUNT:
        raise ValidationError(f"{what} must be an integer within ±{MAX_AMOUNT} or None")
    return value


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """An account to open. Re-creating it with the same attributes is a no-op."""

    id: str
    asset: Asset
    role: str
    owner_id: str | None = None
    lower_bound: int | None = 0
    upper_bound: int | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "account id")
        if not isinstance(self.asset, Asset):
            raise ValidationError(f"account {self.id}: asset must be an Asset")
        if not isinstance(self.role, str) or not self.role:
            raise ValidationError(f"account {self.id}: role is required")
        _check_bound(self.lower_bound, "lower_bound")
        _check_bound(self.upper_bound, "upper_bound")
        if (
            self.lower_bound is not None
            and self.upper_bound is not None
            and self.lower_bound > self.upper_bound
        ):
            raise ValidationError(f"account {self.id}: lower_bound above upper_bound")


@dataclass(frozen=True, slots=True)
class Account:
    """An account with its current balances."""

    id: str
    asset: Asset
    role: str
    owner_id: str | None
    lower_bound: int | None
    upper_bound: int | None
    balance: Balance

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(
            row.id, Asset(row.asset), row.role, row.owner_id, row.lower_bound, row.upper_bound,
            Balance(row.id, row.debits_posted, row.credits_posted, row.debits_pending,
                    row.credits_pending),
        )

    @property
    def credit_line(self) -> int | None:
        """How far below zero the balance may go (0: no overdraft; None: unbounded)."""
        if self.lower_bound is None:
            return None
        return max(0, -self.lower_bound)
