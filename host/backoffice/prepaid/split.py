"""Splitting a prepaid purchase into sub-cards under the per-card cap (F13), without I/O.

A purchase of ``A`` under a cap ``C`` becomes ⌈A/C⌉ cards, each full to the cap but the last,
which takes the remainder. With a bonus rate the bonus rides on each card beside its
principal, so the principal a card may take is the largest ``p`` with
``p + ⌊p·rate⌋ ≤ C``: no card is ever issued above the cap. Each card's bonus is rounded
down on its own principal.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.crypto.luhn import check_digit
from host.backoffice.assets import check_amount
from host.backoffice.errors import ValidationError
from host.backoffice.prepaid.programs import BP

__all__ = ["CardPlan", "card_number", "principal_cap", "split_purchase"]

#: the most cards one purchase may become (a purchase is one transaction)
MAX_CARDS = 10_000


@dataclass(frozen=True, slots=True)
class CardPlan:
    """One sub-card of a purchase: its position (1-based), principal and bonus."""

    index: int
    principal: int
    bonus: int

    @property
    def value(self) -> int:
        return self.principal + self.bonus


def bonus_of(principal: int, bonus_bp: int) -> int:
    """The bonus a principal earns, rounded down."""
    return principal * bonus_bp // BP


def principal_cap(card_cap: int, bonus_bp: int) -> int:
    """The largest principal whose value with its bonus stays within ``card_cap``."""
    principal = card_cap * BP // (BP + bonus_bp)
    while principal + 1 + bonus_of(principal + 1, bonus_bp) <= card_cap:
        principal += 1
    return principal


def split_purchase(amount: int, card_cap: int, bonus_bp: int = 0) -> list[CardPlan]:
    """The cards a purchase of ``amount`` becomes (see the module docstring)."""
    check_amount(amount, what="prepaid amount")
    check_amount(card_cap, what="card cap")
    most = principal_cap(card_cap, bonus_bp)
    if most == 0:
        raise ValidationError(f"a cap of {card_cap} cannot carry one fen with a bonus of "
                              f"{bonus_bp} bp")
    count = -(-amount // most)
    if count > MAX_CARDS:
        raise ValidationError(f"{amount} under a cap of {card_cap} is {count} cards "
                              f"(at most {MAX_CARDS} a purchase)")
    plans = []
    for index in range(1, count + 1):
        principal = most if index < count else amount - most * (count - 1)
        plans.append(CardPlan(index, principal, bonus_of(principal, bonus_bp)))
    return plans


def card_number(program_number: int, sequence: int) -> str:
    """A 16-digit card number: the program's number, the card's sequence in it, a Luhn
    digit (the cards of one program are numbered apart from any other's)."""
    if not 0 < program_number < 10**6 or not 0 < sequence < 10**9:
        raise ValidationError(f"card number out of range: program {program_number}, "
                              f"sequence {sequence}")
    payload = f"{program_number:06d}{sequence:09d}"
    return payload + check_digit(payload)
