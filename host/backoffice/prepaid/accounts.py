"""The ledger accounts of prepaid value. Per merchant: its *custody* account (the money
holders paid, kept apart; never below zero), its *value* account (the issuing side of card
value, unbounded: minus the value outstanding) and its *receipts* account (money entering
from holders' tills and banks, unbounded). Per sub-card one account, bounded by 0 and the
program's cap, owned by the merchant (so every card of a merchant is found by owner and
role). Holders, merchants and insurers use their ordinary CNY accounts."""

from __future__ import annotations

from host.backoffice.accounts import AccountSpec
from host.backoffice.assets import Asset
from host.backoffice.members import Role, account_id

__all__ = ["CARD_ROLE", "CUSTODY_ROLE", "card_account", "card_spec", "cny", "custody",
           "merchant_specs",
           "receipts", "value"]

CARD_ROLE = "prepaid.card"
CUSTODY_ROLE = "prepaid.custody"
_VALUE_ROLE = "prepaid.value"
_RECEIPTS_ROLE = "prepaid.receipts"


def custody(merchant_id: str) -> str:
    return account_id(merchant_id, CUSTODY_ROLE)


def value(merchant_id: str) -> str:
    return account_id(merchant_id, _VALUE_ROLE)


def receipts(merchant_id: str) -> str:
    return account_id(merchant_id, _RECEIPTS_ROLE)


def cny(member_id: str) -> str:
    return account_id(member_id, Role.CNY)


def card_account(card_no: str) -> str:
    return f"card:{card_no}"


def merchant_specs(merchant_id: str) -> list[AccountSpec]:
    return [
        AccountSpec(custody(merchant_id), Asset.CNY, CUSTODY_ROLE, merchant_id, 0),
        AccountSpec(value(merchant_id), Asset.CNY, _VALUE_ROLE, merchant_id, None),
        AccountSpec(receipts(merchant_id), Asset.CNY, _RECEIPTS_ROLE, merchant_id, None),
    ]


def card_spec(card_no: str, merchant_id: str, cap: int) -> AccountSpec:
    return AccountSpec(card_account(card_no), Asset.CNY, CARD_ROLE, merchant_id, 0, cap)
