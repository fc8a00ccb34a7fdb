"""The assets the alliance ledger keeps apart: three kinds of card points, merchant credit
points and money. Each is its own ledger in the TigerBeetle sense: a transfer never mixes two.

Amounts are integers in the asset's minor unit (one point; one fen for CNY).
"""

from __future__ import annotations

from enum import StrEnum

from apdu_specs.commands.purse_data import Purse
from host.records.errors import InvalidAmountError

__all__ = ["MAX_AMOUNT", "PURSE_ASSETS", "Asset", "check_amount", "parse_asset"]

#: Largest amount one transfer may carry. Running sums stay inside a signed 64-bit column
#: (SQLite INTEGER, PostgreSQL BIGINT) for any realistic number of transfers.
MAX_AMOUNT = 2**48


class Asset(StrEnum):
    """One ledger per asset; the value is what the database stores."""

    CONSUMPTION_POINTS = "consumption_points"
    BANK_POINTS = "bank_points"
    CREDIT_POINTS = "credit_points"
    MERCHANT_CREDIT_POINTS = "merchant_credit_points"
    CNY = "cny_fen"

    @property
    def is_points(self) -> bool:
        return self is not Asset.CNY

    @property
    def is_card_purse(self) -> bool:
        """The three purses of chip 2 (F2)."""
        return self in _CARD_PURSES


_CARD_PURSES = frozenset({Asset.CONSUMPTION_POINTS, Asset.BANK_POINTS, Asset.CREDIT_POINTS})

#: chip 2's purses and the ledger's assets for them
PURSE_ASSETS = {Purse.CONSUMPTION: Asset.CONSUMPTION_POINTS, Purse.BANK: Asset.BANK_POINTS,
                Purse.CREDIT: Asset.CREDIT_POINTS}


def parse_asset(text: str) -> Asset:
    """Asset from its stored name, with a typed error naming the choices."""
    try:
        return Asset(text)
    except ValueError:
        choices = ", ".join(a.value for a in Asset)
        raise InvalidAmountError(f"unknown asset {text!r} (one of: {choices})") from None


def check_amount(amount: object, *, allow_zero: bool = False, what: str = "amount") -> int:
    """An integer in 1..MAX_AMOUNT (or 0.. when allowed); floats and bools are refused."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmountError(f"{what} must be an integer in minor units, got {amount!r}")
    low = 0 if allow_zero else 1
    if not low <= amount <= MAX_AMOUNT:
        raise InvalidAmountError(f"{what} must be in {low}..{MAX_AMOUNT}, got {amount}")
    return amount
