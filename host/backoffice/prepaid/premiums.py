"""Premiums and payouts of the per-card policies (F14, F16), without I/O.

A policy insures one sub-card: the sum insured is the card's paid principal (a bonus is the
merchant's gift, not the holder's money). The premium is the insurer's rate for a year,
pro rata for the term, rounded up (in the insurer's favour, as a premium is quoted). A claim
pays the card's live principal, never more than the sum insured, when the trigger falls
within the policy's term; otherwise nothing, and the line says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.backoffice.prepaid.programs import BP

__all__ = ["Payout", "payout", "premium"]

_YEAR_DAYS = 365


def premium(sum_insured: int, rate_bp: int, term_days: int) -> int:
    """The premium of a policy (see the module docstring)."""
    return -(-sum_insured * rate_bp * term_days // (BP * _YEAR_DAYS))


@dataclass(frozen=True, slots=True)
class Payout:
    """A claim's figure for one card, with the words that explain it."""

    amount: int
    explanation: str


def payout(
    *, principal: int, bonus: int, sum_insured: int, starts: int, ends: int, trigger: int
) -> Payout:
    """What the insurer pays for one card whose live value is ``principal`` + ``bonus`` when
    the trigger (microseconds) happens, under a policy running from ``starts`` to ``ends``."""
    if not starts <= trigger < ends:
        return Payout(0, "trigger outside the policy's term: nothing insured")
    amount = min(principal, sum_insured)
    parts = [f"live balance {principal + bonus} fen = principal {principal} + bonus {bonus}",
             "pays the principal only"]
    if amount < principal:
        parts.append(f"capped at the sum insured {sum_insured}")
    return Payout(amount, "; ".join(parts))
