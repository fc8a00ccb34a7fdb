"""The online order flow (F24) as library calls, used by the web shop, the CLI and the tests.

1. :func:`swipe` — the holder's personal reader authenticates with its bound card (both
   cryptograms checked: a card in an unbound reader stops here) and makes the PIN block
   of the PIN entered on it (ISO 9564-1 format 0 under the ZPK of the terminal that sends
   it, bound to the card's PAN).
2. :func:`place_order` — the shop asks the authentication centre (PIN, delivery address,
   credit) and, only if all three pass, asks the gateway to hold the amount in escrow
   under the release condition (acceptance or a date); the order is written to the shop's
   order book: it has arrived at the merchant. :func:`place_code_order` is the holder's
   side placing a code order at the settlement centre (the code reaches the holder only).
3. :func:`print_order` — the merchant's print module prints an order the gateway says is
   this merchant's (ESC/POS bytes and a PDF page into a directory).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from apdu_specs.crypto.pin_blocks import encipher_format_0
from host.backoffice.addresses import DeliveryAddress
from host.backoffice.centre import Condition, OrderRequest, SettlementCentre
from host.reader import BindingClient, PersonalReader
from host.slips import Item, Slip, SlipKind, encode_escpos, encode_pdf

from .errors import GatewayRefusalError, ShopError
from .store import Account, ShopOrder, ShopStore
from .terminal import MerchantTerminal

__all__ = ["Checkout", "PlacedOrder", "Swipe", "place_code_order", "place_order",
           "print_order", "swipe"]

_RELEASE_TEXT = {
    "acceptance": "Released when the holder accepts the goods. 收货确认后放款。",
    "date": "Released on {date}. 到期放款。",
    "code": "Released when the courier enters the holder's code on delivery. 收货后凭验证码放款。",
}


@dataclass(frozen=True)
class Swipe:
    """What the reader hands the shop: the card's PAN and the PIN block (never the PIN)."""

    pan: str
    pin_block: bytes

    def __repr__(self) -> str:
        return f"Swipe(card {self.pan[:6]}…{self.pan[-4:]})"


@dataclass(frozen=True)
class Checkout:
    order_id: str
    account: Account
    items: tuple[Item, ...]
    address: DeliveryAddress
    condition: str = "acceptance"  #: ``acceptance`` or ``date`` (``code``: the holder's side)
    expires_at: dt.datetime | None = None
    release_at: dt.datetime | None = None

    @property
    def amount(self) -> int:
        return sum(item.amount for item in self.items)

    def expiry(self) -> dt.datetime:
        return self.expires_at or dt.datetime.now(dt.UTC).replace(microsecond=0) + \
            dt.timedelta(days=30)


@dataclass(frozen=True)
class PlacedOrder:
    order: ShopOrder
    payment: dict[str, object]
    code: str | None = None  #: a code order's release code, for the holder only


def swipe(reader: PersonalReader, client: BindingClient, aid: bytes, pin: str,
          zpk: bytes) -> Swipe:
    """Authenticate with the bound card, then encipher the PIN entered on the reader."""
    card = reader.open(client, aid)
    return Swipe(card.pan, encipher_format_0(zpk, pin, card.pan))


def _check_holder(terminal: MerchantTerminal, checkout: Checkout, card: Swipe) -> None:
    """The authentication centre's three checks; any that fails refuses the order."""
    address = checkout.address
    answer = terminal.expect("POST", "/v1/holder-checks", {
        "card_id": checkout.account.card_id, "pan": card.pan,
        "pin_block": card.pin_block.hex().upper(), "amount": checkout.amount,
        "address": {"street": address.street, "postcode": address.postcode,
                    "city": address.city}})
    if answer["pin"] != "00":
        raise GatewayRefusalError("pin", f"the holder check refused the PIN ({answer['pin']}: "
                                f"{answer['reason']})")
    if answer["address"] != "Y":
        raise GatewayRefusalError("address_not_on_file", f"delivery address {address.street!r} "
                                f"is not the holder's on file ({answer['address']})")
    if answer["code"] != "00":
        raise GatewayRefusalError("over_credit_line", f"{checkout.amount} fen is over what the "
                                f"holder's credit line leaves ({answer['credit']})")


def _shop_order(checkout: Checkout, merchant_id: str) -> ShopOrder:
    items = [{"name": i.name, "quantity": i.quantity, "unit_price": i.unit_price}
             for i in checkout.items]
    address = [checkout.address.street, f"{checkout.address.postcode} {checkout.address.city}"]
    release_at = "" if checkout.release_at is None else checkout.release_at.isoformat()
    return ShopOrder(checkout.order_id, merchant_id, checkout.account.member_id,
                     checkout.account.name, items, address, checkout.amount, checkout.condition,
                     release_at=release_at)


def place_order(terminal: MerchantTerminal, store: ShopStore, merchant_id: str,
                checkout: Checkout, card: Swipe) -> PlacedOrder:
    """Check the holder, hold the payment through the gateway, record the order."""
    if checkout.condition == "code":
        raise ShopError("a code order is placed by the holder's side (place_code_order)")
    _check_holder(terminal, checkout, card)
    doc: dict[str, object] = {
        "payment_id": checkout.order_id, "holder_id": checkout.account.member_id,
        "amount": checkout.amount, "condition": checkout.condition,
        "address": checkout.address.street, "expires_at": checkout.expiry().isoformat()}
    if checkout.release_at is not None:
        doc["release_at"] = checkout.release_at.isoformat()
    payment = terminal.expect("POST", "/v1/payments", doc)
    order = _shop_order(checkout, merchant_id)
    store.save(order)
    return PlacedOrder(order, payment)


def place_code_order(terminal: MerchantTerminal, centre: SettlementCentre, store: ShopStore,
                     merchant_id: str, checkout: Checkout, card: Swipe, *,
                     at: dt.datetime) -> PlacedOrder:
    """The holder's side: after the same holder check, the holder's session at the
    settlement centre places a code order; the code goes back to the holder only."""
    _check_holder(terminal, checkout, card)
    order, code, _ = centre.place_order(OrderRequest(
        checkout.order_id, checkout.account.member_id, merchant_id, checkout.amount,
        Condition.CODE, checkout.address.street, checkout.expiry()), at=at)
    shop_order = replace(_shop_order(checkout, merchant_id), condition=Condition.CODE.value)
    store.save(shop_order)
    return PlacedOrder(shop_order, order.as_dict(), code)


def print_order(terminal: MerchantTerminal, store: ShopStore, order_id: str,
                directory: str | Path, *, width: int = 48) -> tuple[Path, Path]:
    """Print an order the gateway says is this terminal's merchant's; the ESC/POS and PDF
    files written. Another merchant's order is not found at the gateway: nothing prints."""
    order = store.order(order_id)
    status, payment = terminal.call("GET", f"/v1/payments/{order_id}")
    if status != 200:
        raise GatewayRefusalError("not_this_merchants", f"order {order_id} is not a payment of "
                                f"terminal {terminal.terminal_id}'s merchant")
    slip = _slip(order, str(payment["merchant"]))
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    escpos, pdf = out / f"{order_id}.bin", out / f"{order_id}.pdf"
    escpos.write_bytes(encode_escpos(slip, width))
    pdf.write_bytes(encode_pdf(slip, width))
    return escpos, pdf


def _slip(order: ShopOrder, merchant: str) -> Slip:
    return Slip.from_dict({
        "kind": SlipKind.ORDER.value, "merchant": merchant, "order_id": order.order_id,
        "holder": order.holder_name, "items": order.items, "address": order.address,
        "release": _RELEASE_TEXT[order.condition].format(date=order.release_at)})
