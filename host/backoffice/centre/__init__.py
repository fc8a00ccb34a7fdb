"""The settlement centre (F22–F25): a holder's three tiers of accounts — a virtual account
with a credit line that receives orders and bills, a small capped settlement account topped
up automatically from the bank, and the bank account behind it — with money released to a
merchant only when the holder's condition is met (goods accepted, a date, a release code),
and the services around them: transfers between the holder's accounts, bills, vouchers,
payroll, spending analysis and a credit line that moves with the holder's history.

It is built on the back office's one ledger (:mod:`host.backoffice.ledger`): tiers are ledger
accounts with bounds, escrow and pending top-ups are ledger holds, every request carries an
idempotency key. Decisions live in modules without I/O (``tiers``, ``topup_rule``,
``order_rules``, ``release_codes``, ``categories``); the others read and write. Start with
:class:`SettlementCentre`.
"""

from __future__ import annotations

from host._lazy import lazy_exports

__all__ = [
    "BankAnswer",
    "BankGateway",
    "Condition",
    "OrderRequest",
    "ReleaseBy",
    "SettlementCentre",
    "SimulatedBank",
    "Tier",
    "TierSettings",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    ".bank": ("BankAnswer", "BankGateway", "SimulatedBank"),
    ".centre": ("SettlementCentre",),
    ".escrow": ("OrderRequest",),
    ".order_rules": ("Condition", "ReleaseBy"),
    ".tiers": ("Tier", "TierSettings"),
})
