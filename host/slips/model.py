"""One slip model for the merchant's print module: an order, a delivery note or a sale receipt.

A :class:`Slip` holds what the slip says (holder, items, amounts in minor units, address,
order id, release instructions); :func:`layout` turns it into styled lines of a given
width in columns, which every renderer (ESC/POS, PDF) prints as they are: the two
outputs cannot disagree about what a slip says.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from apdu_specs.errors import LocalError

__all__ = ["Align", "Item", "Line", "Slip", "SlipError", "SlipKind", "display_width", "layout",
           "money"]


class SlipError(LocalError, ValueError):
    """A slip that cannot be printed as given (a missing field, a negative amount…)."""


class SlipKind(Enum):
    ORDER = "order"
    DELIVERY = "delivery"
    RECEIPT = "receipt"


_TITLES = {SlipKind.ORDER: "ORDER 订单", SlipKind.DELIVERY: "DELIVERY 送货单",
           SlipKind.RECEIPT: "SALE RECEIPT 销售小票"}


class Align(Enum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


@dataclass(frozen=True)
class Line:
    text: str = ""
    align: Align = Align.LEFT
    bold: bool = False
    large: bool = False


@dataclass(frozen=True)
class Item:
    name: str
    quantity: int
    unit_price: int  #: minor units

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price


@dataclass(frozen=True)
class Slip:
    kind: SlipKind
    merchant: str
    order_id: str
    holder: str
    items: tuple[Item, ...]
    address: tuple[str, ...] = ()
    release: str = ""
    currency: str = "CNY"
    issued: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.order_id or not self.items:
            raise SlipError("a slip needs an order id and at least one item")
        for item in self.items:
            if item.quantity <= 0 or item.unit_price < 0:
                raise SlipError(f"item {item.name!r}: quantity must be positive and price not negative")

    @property
    def total(self) -> int:
        return sum(item.amount for item in self.items)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Slip:
        try:
            items = tuple(Item(str(i["name"]), int(i["quantity"]), int(i["unit_price"]))
                          for i in raw["items"])
            return cls(SlipKind(raw.get("kind", "order")), str(raw["merchant"]),
                       str(raw["order_id"]), str(raw["holder"]), items,
                       tuple(str(a) for a in raw.get("address", ())), str(raw.get("release", "")),
                       str(raw.get("currency", "CNY")), str(raw.get("issued", "")))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SlipError):
                raise
            raise SlipError(f"not a slip: {exc!r}") from None

    @classmethod
    def load(cls, path: str | Path) -> Slip:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SlipError(f"slip {path}: {exc.strerror}") from None
        except ValueError as exc:
            raise SlipError(f"slip {path} is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise SlipError(f"slip {path}: a JSON object is expected")
        return cls.from_dict(raw)


def money(minor: int, currency: str = "CNY") -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def display_width(text: str) -> int:
    """Columns on a receipt printer: a wide (CJK) character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _columns(left: str, right: str, width: int) -> str:
    gap = max(1, width - display_width(left) - display_width(right))
    return left + " " * gap + right


def _wrap(text: str, width: int) -> list[str]:
    lines, current = [], ""
    for char in text:
        if display_width(current + char) > width:
            lines.append(current)
            current = ""
        current += char
    return [*lines, current] if current or not lines else lines


def layout(slip: Slip, width: int = 48) -> list[Line]:
    """The slip as lines of at most ``width`` columns."""
    rule = Line("-" * width)
    out = [Line(part, Align.CENTER, bold=True, large=True)  # double width: half the columns
           for part in _wrap(slip.merchant, width // 2)]
    out += [Line(_TITLES[slip.kind], Align.CENTER, bold=True), rule,
           Line(_columns("Order 订单号", slip.order_id, width))]
    if slip.issued:
        out.append(Line(_columns("Date 日期", slip.issued, width)))
    out.append(Line(_columns("Holder 持卡人", slip.holder, width)))
    if slip.address:
        out.append(Line("Address 地址:"))
        out += [Line("  " + part) for line in slip.address for part in _wrap(line, width - 2)]
    out.append(rule)
    for item in slip.items:
        out += [Line(part) for part in _wrap(item.name, width)]
        out.append(Line(_columns(f"  {item.quantity} x {money(item.unit_price)}",
                                 money(item.amount), width)))
    out += [rule, Line(_columns(f"TOTAL 合计 {slip.currency}", money(slip.total), width),
                       bold=True)]
    if slip.release:
        out += [rule, Line("Release 放款条件:", bold=True)]
        out += [Line(part) for part in _wrap(slip.release, width)]
    return out
