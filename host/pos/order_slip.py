"""The merchant's order slip (F24, F26): what the print module prints for the shop once a
holder's order is paid — the goods, the delivery address and the payment that settles it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import POSUsageError
from .money import format_cny
from .slip import WIDTH, Slip

__all__ = ["Order", "OrderLine", "render_order_slip"]


@dataclass(frozen=True)
class OrderLine:
    description: str
    quantity: int
    unit_price: int  #: fen

    def __post_init__(self) -> None:
        if self.quantity < 1 or self.unit_price < 0:
            raise POSUsageError("an order line has a quantity of 1 or more and a price of 0 or more")
        if not self.description.strip():
            raise POSUsageError("an order line needs a description")

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Order:
    """A holder's order: lines of goods, where they go, and the shop's reference."""

    order_id: str
    lines: tuple[OrderLine, ...]
    deliver_to: str = ""

    def __post_init__(self) -> None:
        if not self.lines:
            raise POSUsageError("an order has at least one line")

    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "deliver_to": self.deliver_to,
                "lines": [{"description": li.description, "quantity": li.quantity,
                           "unit_price": li.unit_price} for li in self.lines]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        return cls(data["order_id"], tuple(OrderLine(li["description"], li["quantity"],
                                                     li["unit_price"]) for li in data["lines"]),
                   data.get("deliver_to", ""))


def _row(left: str, right: str) -> str:
    room = WIDTH - len(right) - 1
    return f"{left[:room]:<{room}} {right}"


def render_order_slip(order: Order, sale: Slip) -> str:
    """The order as the shop prints it, with the payment (transaction, card, result)."""
    lines = ["=" * WIDTH, "ORDER / DELIVERY SLIP".center(WIDTH).rstrip(),
             sale.merchant_name.center(WIDTH).rstrip(), "-" * WIDTH,
             _row("ORDER", order.order_id), _row("DATE", sale.when.strftime("%Y-%m-%d %H:%M")),
             "-" * WIDTH]
    for line in order.lines:
        lines.append(_row(f"{line.quantity} x {line.description}", format_cny(line.total)))
    lines += ["-" * WIDTH, _row("TOTAL", format_cny(order.total))]
    if order.deliver_to:
        lines += ["DELIVER TO", *(f"  {part.strip()}" for part in order.deliver_to.split(","))]
    lines += ["-" * WIDTH, _row("PAID BY", sale.card or "-"), _row("HOLDER", sale.holder or "-"),
              _row("PAYMENT", f"TXN {sale.txn_id} {sale.result}"), "=" * WIDTH]
    return "\n".join(lines) + "\n"
