"""Prepaid programs: a merchant's rules for the cards it sells (F13), without I/O.

A program names its merchant, its kind, two per-card caps — a registered card's (a named
holder on file) and an anonymous card's, as China's single-purpose prepaid card rules set them
(5,000 and 1,000 CNY by default, configurable per program) — the kind's rule (a bonus rate, a discount rate, a
number of uses), the insurer and its premium rate (F14), the policy term and how long cards
stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from host.backoffice.assets import MAX_AMOUNT
from host.backoffice.errors import ValidationError
from host.backoffice.members import check_member_id

__all__ = ["ANONYMOUS_CAP", "BP", "REGISTERED_CAP", "HolderKind", "Program", "ProgramKind"]

#: basis points in one: rates are integers out of 10,000
BP = 10_000
#: the default per-card caps in fen: a registered card 5,000 CNY, an anonymous one 1,000 CNY
REGISTERED_CAP, ANONYMOUS_CAP = 500_000, 100_000


class HolderKind(StrEnum):
    """Whether a card's holder is on file by name (registered) or not (anonymous); each
    kind has its own per-card cap."""

    REGISTERED = "registered"
    ANONYMOUS = "anonymous"


class ProgramKind(StrEnum):
    """F13's card kinds."""

    BONUS = "bonus"  # paid principal plus a bonus, tracked apart on every card
    DISCOUNT = "discount"  # a rate taken off every payment
    RIGHTS = "rights"  # a benefit after purchase: a discount, and the right is recorded
    COUNT = "count"  # n uses; each use a posting of the price of one use


@dataclass(frozen=True, slots=True)
class Program:
    """One merchant's prepaid program; see the module docstring. Rates are basis points.
    ``card_cap`` is a registered card's cap; ``anonymous_cap`` an anonymous card's (by
    default 1,000 CNY, or ``card_cap`` when that is lower), never above ``card_cap``."""

    id: str
    merchant_id: str
    kind: ProgramKind
    card_cap: int
    insurer_id: str
    premium_bp: int = 0
    bonus_bp: int = 0
    discount_bp: int = 0
    uses: int = 0
    term_days: int = 365
    valid_days: int | None = None
    priority: int = 0
    anonymous_cap: int | None = None

    def __post_init__(self) -> None:
        check_member_id(self.id)
        check_member_id(self.merchant_id)
        check_member_id(self.insurer_id)
        if not isinstance(self.kind, ProgramKind):
            raise ValidationError(f"program {self.id}: kind must be a ProgramKind")
        _positive(self.card_cap, f"program {self.id}: registered card cap", MAX_AMOUNT)
        if self.anonymous_cap is None:
            object.__setattr__(self, "anonymous_cap", min(ANONYMOUS_CAP, self.card_cap))
        anonymous = _positive(self.anonymous_cap, f"program {self.id}: anonymous card cap",
                              MAX_AMOUNT)
        if anonymous > self.card_cap:
            raise ValidationError(f"program {self.id}: the anonymous card cap ({anonymous}) "
                                  f"is above the registered card cap ({self.card_cap})")
        _positive(self.term_days, f"program {self.id}: policy term (days)", 36_500)
        if self.valid_days is not None:
            _positive(self.valid_days, f"program {self.id}: validity (days)", 36_500)
        for name in ("premium_bp", "bonus_bp", "discount_bp"):
            _within(getattr(self, name), f"program {self.id}: {name}", 0, BP)
        _within(self.priority, f"program {self.id}: priority", -1_000, 1_000)
        self._check_kind_rule()

    def cap(self, kind: HolderKind) -> int:
        """The per-card cap of a card of this holder kind."""
        if kind is HolderKind.ANONYMOUS:
            assert self.anonymous_cap is not None  # set by __post_init__
            return self.anonymous_cap
        return self.card_cap

    def _check_kind_rule(self) -> None:
        caps = (self.card_cap, self.cap(HolderKind.ANONYMOUS))
        if 1 + self.bonus_bp // BP > min(caps):
            raise ValidationError(f"program {self.id}: a cap of {min(caps)} cannot carry "
                                  f"one fen with its bonus")
        if self.kind is not ProgramKind.BONUS and self.bonus_bp:
            raise ValidationError(f"program {self.id}: only a bonus program has a bonus rate")
        if self.kind in (ProgramKind.DISCOUNT, ProgramKind.RIGHTS) and not self.discount_bp:
            raise ValidationError(f"program {self.id}: a {self.kind} program needs a discount")
        if self.kind is ProgramKind.COUNT:
            _positive(self.uses, f"program {self.id}: uses", 100_000)
            if self.card_cap % self.uses:
                raise ValidationError(f"program {self.id}: the cap ({self.card_cap}) must be "
                                      f"a whole number of uses ({self.uses})")
            if caps[1] % (self.card_cap // self.uses):
                raise ValidationError(f"program {self.id}: the anonymous cap ({caps[1]}) must "
                                      f"be a whole number of uses of "
                                      f"{self.card_cap // self.uses}")
        elif self.uses:
            raise ValidationError(f"program {self.id}: only a count program has uses")

    @property
    def use_price(self) -> int | None:
        """A count program's price of one use (a full card is ``uses`` uses)."""
        return self.card_cap // self.uses if self.uses else None

    def charge(self, price: int) -> int:
        """What a payment of ``price`` draws from the cards: a discount program takes its
        rate off, rounded in the holder's favour."""
        return price - price * self.discount_bp // BP

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "merchant": self.merchant_id, "kind": self.kind.value,
            "card_cap": self.card_cap, "anonymous_cap": self.anonymous_cap,
            "insurer": self.insurer_id,
            "premium_bp": self.premium_bp, "bonus_bp": self.bonus_bp,
            "discount_bp": self.discount_bp, "uses": self.uses, "term_days": self.term_days,
            "valid_days": self.valid_days, "priority": self.priority,
        }


def _positive(value: object, what: str, highest: int) -> int:
    return _within(value, what, 1, highest)


def _within(value: object, what: str, lowest: int, highest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise ValidationError(f"{what} must be an integer in {lowest}..{highest}, got {value!r}")
    return value
