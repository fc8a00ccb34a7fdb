"""When and how much to top up a settlement account (Formance's ``max $cap - $balance``,
Lago's threshold and target with pending top-ups counted). No I/O.

The balance that matters is the *highest* the account could reach: posted plus the credits
still pending (top-ups asked of the bank and not yet answered). A top-up is due when the
posted balance is below the threshold, and is then exactly what fills the highest balance to
the cap; when pending top-ups already fill it, nothing more is asked, so a top-up is never
asked twice for the same shortfall.
"""

from __future__ import annotations

from host.backoffice.transfers import Balance

__all__ = ["topup_due"]


def topup_due(balance: Balance, *, cap: int, threshold: int) -> int:
    """The amount to ask of the bank now (0: none)."""
    if balance.posted >= threshold:
        return 0
    highest = balance.posted + balance.credits_pending
    return max(0, cap - highest)
