"""How a payment draws on a network account's sub-cards so that they act as one card (F13),
without I/O.

Order: cards that expire come first, soonest first (value that would lapse is used before
value that would not); then by priority, lower number first; then in issue order. A payment
takes each card's whole usable value before moving to the next, across as many cards as it
needs. Each draw is split between paid principal and bonus in the card's own proportion,
the principal rounded down (the holder's refundable principal never falls faster than its
share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from host.backoffice.prepaid.errors import InsufficientValueError

__all__ = ["CardView", "Draw", "draw", "split_draw"]


@dataclass(frozen=True, slots=True)
class CardView:
    """What the drawing needs of one card: usable value, its principal and bonus, order."""

    card_no: str
    principal: int
    bonus: int
    expires_at: int | None  # microseconds; None: never
    priority: int
    sequence: int

    @property
    def value(self) -> int:
        return self.principal + self.bonus

    def order(self) -> tuple[bool, int, int, int]:
        return (self.expires_at is None, self.expires_at or 0, self.priority, self.sequence)


@dataclass(frozen=True, slots=True)
class Draw:
    """One card's part of a payment (or of a refund, an expiry, a claim)."""

    card_no: str
    amount: int
    principal: int
    bonus: int


def split_draw(amount: int, principal: int, bonus: int) -> tuple[int, int]:
    """``amount`` out of a card holding ``principal`` + ``bonus``: the principal part and the
    bonus part (see the module docstring). Both parts stay within what the card holds."""
    value = principal + bonus
    if not 0 < amount <= value:
        raise ValueError(f"draw of {amount} from a card of {value}")
    principal_part = amount * principal // value
    return principal_part, amount - principal_part


def draw(cards: Sequence[CardView], amount: int) -> list[Draw]:
    """The draws that pay ``amount`` from ``cards`` in the documented order; refuses (with
    nothing drawn) when the cards hold less than ``amount``."""
    usable = sum(card.value for card in cards)
    if amount > usable:
        raise InsufficientValueError(f"payment of {amount} fen above the account's usable "
                                     f"value of {usable}")
    draws: list[Draw] = []
    left = amount
    for card in sorted(cards, key=CardView.order):
        if left == 0:
            break
        take = min(left, card.value)
        if take == 0:
            continue
        principal, bonus = split_draw(take, card.principal, card.bonus)
        draws.append(Draw(card.card_no, take, principal, bonus))
        left -= take
    return draws
