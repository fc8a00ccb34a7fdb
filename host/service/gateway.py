"""The merchants' payment gateway on the HTTP door: payments held in escrow, prepaid payments.

A merchant's terminal (a shop's till, its web shop's server) asks the settlement centre for
a payment (F23): the amount is held in the holder's virtual account under a release
condition — the holder's acceptance or a date — after the authentication centre's checks
(an address not on file, an amount over the credit line: refused with their reason). The
merchant then reads the payment's state, and on delivery enters the one-time code the
holder was given for a code order. A prepaid holder pays at the issuing merchant's till
from the linked sub-cards (F13–F16), drawn as one card.

Every request speaks only for the authenticated terminal's merchant: a payment is the
requesting merchant's, another merchant's payment is answered as not found (its existence
is nobody else's business), and a prepaid account of another merchant's program is
refused. No business rule lives here: the settlement centre
(:class:`~host.backoffice.centre.SettlementCentre`) and the prepaid office
(:class:`~host.backoffice.prepaid.PrepaidOffice`) decide, over the service's database.

A code order cannot be placed through the gateway: its code must reach the holder by a
way the merchant does not see (the holder's own session at the settlement centre), so a
merchant asking for one is refused (``condition``: ``acceptance`` or ``date``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from host.backoffice.centre import Condition, OrderRequest, ReleaseBy, SettlementCentre
from host.backoffice.centre.order_rules import Order
from host.backoffice.errors import NotFoundError
from host.backoffice.prepaid import PrepaidOffice

from . import api
from .api import Fields

if TYPE_CHECKING:
    from .operations import Answer, Caller, HTTPCall

__all__ = ["pay_prepaid", "payment_status", "release_payment", "request_payment"]

#: the conditions a merchant may ask for (a code order is the holder's to place)
_MERCHANT_CONDITIONS = {c.value: c for c in (Condition.ACCEPTANCE, Condition.DATE)}
_AMOUNT_MAX = 10**12 - 1


def _centre(caller: Caller) -> SettlementCentre:
    return SettlementCentre(caller.services.db)


def _own_order(caller: Caller, centre: SettlementCentre, payment_id: str) -> Order:
    """The payment if it is this terminal's merchant's; not found otherwise."""
    order = centre.order(payment_id)
    if order.merchant_id != caller.terminal.merchant_id:
        raise NotFoundError(f"no payment {payment_id} of merchant {caller.terminal.merchant_id}")
    return order


def _payment_json(order: Order) -> dict[str, Any]:
    shown = order.as_dict()
    return {"payment_id": shown.pop("order"), **shown}


def request_payment(caller: Caller, call: HTTPCall) -> Answer:
    """Hold a payment in the holder's virtual account under its release condition."""
    f = Fields(api.json_body(call.body))
    condition = f.text("condition")
    if condition not in _MERCHANT_CONDITIONS:
        raise f.fail("condition", "acceptance or date (a code order is placed by its holder)")
    request = OrderRequest(
        f.ident("payment_id"), f.ident("holder_id"), caller.terminal.merchant_id,
        f.integer("amount", 1, _AMOUNT_MAX), _MERCHANT_CONDITIONS[condition],
        f.text("address"), f.time("expires_at", aware=True),
        f.time("release_at", aware=True) if f.has("release_at") else None,
        f.integer("mcc", 0, 9999) if f.has("mcc") else 5999)
    centre = _centre(caller)
    order, _code, status = centre.place_order(request, at=caller.now)
    return 200, {**_payment_json(order), "status": status}


def payment_status(caller: Caller, call: HTTPCall) -> Answer:
    """A payment of this merchant: held, released (how much), voided or expired."""
    payment_id = Fields(dict(call.params)).ident("payment_id")
    return 200, _payment_json(_own_order(caller, _centre(caller), payment_id))


def release_payment(caller: Caller, call: HTTPCall) -> Answer:
    """On delivery: the merchant enters the code the holder was given. A wrong code counts a
    try (locked after the limit) and is answered 422 with its reason."""
    payment_id = Fields(dict(call.params)).ident("payment_id")
    f = Fields(api.json_body(call.body))
    centre = _centre(caller)
    _own_order(caller, centre, payment_id)
    outcome = centre.release(payment_id, f.ident("request_id"), by=ReleaseBy.CODE,
                             at=caller.now, code=f.text("code"),
                             amount=f.integer("amount", 1, _AMOUNT_MAX)
                             if f.has("amount") else None)
    return 200, {**_payment_json(outcome.order), "moved": outcome.moved,
                 "repeated": outcome.repeated}


def pay_prepaid(caller: Caller, call: HTTPCall) -> Answer:
    """A payment from a prepaid network account of one of this merchant's programs, named
    by its id (``account``) or by the holder's card read from chip 1 (``card_id``, with
    ``program`` when the holder has accounts in several of the merchant's programs)."""
    f = Fields(api.json_body(call.body))
    office, merchant = PrepaidOffice(caller.services.db), caller.terminal.merchant_id
    if f.has("account") == f.has("card_id"):
        raise f.fail("account", "name the account or the card, one of the two")
    account = f.text("account") if f.has("account") else office.account_of_card(
        f.ident("card_id"), merchant, f.ident("program") if f.has("program") else None)
    paid = office.pay(f.ident("request_id"), account, f.integer("amount", 1, _AMOUNT_MAX),
                      at=caller.now, merchant_id=merchant)
    return 200, paid
