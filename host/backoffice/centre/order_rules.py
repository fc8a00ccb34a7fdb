"""What may happen to an escrowed order (F25), decided without I/O.

An order's amount is held on the holder's virtual account until its condition is met:

* ``acceptance``: the holder accepts the goods (the holder may also accept an order of any
  other condition: the condition protects the holder, who may waive it);
* ``date``: released by the centre's scheduler once the date has come;
* ``code``: the merchant enters the one-time code the holder was given, with at most
  :data:`~.release_codes.MAX_TRIES` wrong tries before the code locks.

A release may be partial; whatever is left stays held. A hold ends exactly once: released in
full, voided (the order cancelled) or expired; after that every request is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from host.backoffice.centre.errors import ReleaseRefusedError
from host.backoffice.centre.release_codes import MAX_TRIES
from host.backoffice.errors import ValidationError

__all__ = ["Condition", "Order", "OrderState", "ReleaseBy", "check_voidable", "release_amount"]


class Condition(StrEnum):
    ACCEPTANCE = "acceptance"
    DATE = "date"
    CODE = "code"


class ReleaseBy(StrEnum):
    """Who or what asks for a release."""

    HOLDER = "holder"  # the holder accepted the goods
    CODE = "code"  # the merchant entered the code
    DATE = "date"  # the scheduler, at the release date


class OrderState(StrEnum):
    HELD = "held"
    RELEASED = "released"
    VOIDED = "voided"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    holder_id: str
    merchant_id: str
    amount: int
    released: int
    state: OrderState
    condition: Condition
    release_at: int | None  # microseconds
    expires_at: int
    code_tries: int
    hold_id: str
    hold_seq: int
    category: str
    address: str

    @classmethod
    def from_row(cls, row: Any) -> Order:
        return cls(row.id, row.holder_id, row.merchant_id, row.amount, row.released,
                   OrderState(row.state), Condition(row.condition), row.release_at,
                   row.expires_at, row.code_tries, row.hold_id, row.hold_seq, row.category,
                   row.address)

    @property
    def remaining(self) -> int:
        return self.amount - self.released

    @property
    def code_locked(self) -> bool:
        return self.condition is Condition.CODE and self.code_tries >= MAX_TRIES

    def as_dict(self) -> dict[str, Any]:
        return {"order": self.id, "holder": self.holder_id, "merchant": self.merchant_id,
                "amount": self.amount, "released": self.released, "held": self.held,
                "state": self.state.value, "condition": self.condition.value,
                "category": self.category, "code_locked": self.code_locked}

    @property
    def held(self) -> int:
        return self.remaining if self.state is OrderState.HELD else 0


def release_amount(order: Order, by: ReleaseBy, amount: int | None, at: int) -> int:
    """How much a release request moves, or why it may not (a refusal)."""
    _check_open(order, at)
    if by is ReleaseBy.DATE and (order.condition is not Condition.DATE
                                 or order.release_at is None or at < order.release_at):
        raise ReleaseRefusedError("date_not_reached", f"order {order.id}: not due for release")
    if by is ReleaseBy.CODE:
        if order.condition is not Condition.CODE:
            raise ReleaseRefusedError("no_code", f"order {order.id} has no release code")
        if order.code_locked:
            raise ReleaseRefusedError("code_locked",
                                      f"order {order.id}: release code locked after "
                                      f"{MAX_TRIES} wrong tries")
    if amount is None:
        return order.remaining
    if amount > order.remaining:
        raise ValidationError(f"order {order.id}: {amount} is more than the "
                              f"{order.remaining} still held")
    return amount


def check_voidable(order: Order, at: int) -> None:
    _check_open(order, at)


def _check_open(order: Order, at: int) -> None:
    if order.state is not OrderState.HELD:
        raise ReleaseRefusedError(f"order_{order.state.value}",
                                  f"order {order.id} is already {order.state.value}")
    if at >= order.expires_at:
        raise ReleaseRefusedError("order_expired", f"order {order.id} has expired")
