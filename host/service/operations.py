"""What each route of the HTTP front door does: JSON in, the in-process link's method, JSON out.

Every handler reads its request with :mod:`.api` (a wrong field raises
:class:`~host.service.api.JSONFieldError`, answered 422), checks that the request speaks
only for the authenticated terminal and its merchant (else :class:`ForbiddenRequestError`,
403), and calls the *same* method of the terminal's
:class:`~host.backoffice.inprocess_link.InProcessBackOffice` that the ISO 8583 door and a
terminal running in process call: no business rule lives here. The two queries read the
ledger and the clearing log.

:data:`OPERATIONS` is the route table: the app (:mod:`.http_app`) builds its routes from it,
and the OpenAPI description (:mod:`.openapi`) is checked against it by the tests.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from apdu_specs.errors import RemoteError
from host.backoffice.inprocess_link import InProcessBackOffice
from host.backoffice.members import account_id
from host.backoffice.schema import bo_batch_rejections, bo_batches
from host.records.assets import PURSE_ASSETS
from host.records.batch import SaleClaim, parse_batch
from host.records.errors import InvalidRecordError

from . import api
from .api import Fields
from .errors import ServiceError
from .gateway import pay_prepaid, payment_status, release_payment, request_payment
from .holder_checks import check_holder_http
from .holds import AuthorisationHolds, Reversal, ReversalRefusedError
from .iso8583 import ResponseCode
from .services import AllianceServices
from .terminals import TerminalKey

__all__ = ["OPERATIONS", "Caller", "ForbiddenRequestError", "HTTPCall", "Operation"]


class ForbiddenRequestError(ServiceError, RemoteError):
    """An authenticated terminal asking for another terminal or merchant (answered 403)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class HTTPCall:
    """One HTTP request as the handlers see it: no socket, no framework."""

    method: str
    target: str  #: path and query as sent (what the signature covers)
    headers: Mapping[str, str]  #: names in lower case
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)  #: the route's path parameters
    query: Mapping[str, str] = field(default_factory=dict)
    #: the terminal the connection's mutual-TLS certificate names ("" none; None: no mTLS)
    certified: str | None = None


@dataclass(frozen=True)
class Caller:
    """The authenticated terminal and what it acts through."""

    terminal: TerminalKey
    services: AllianceServices
    now: dt.datetime

    @property
    def link(self) -> InProcessBackOffice:
        return self.services.link(self.terminal.terminal_id)


Answer = tuple[int, dict[str, Any]]
Handler = Callable[[Caller, HTTPCall], Answer]


@dataclass(frozen=True)
class Operation:
    """One route: its name (the OpenAPI operationId), method, path template and handler."""

    name: str
    method: str
    path: str
    handler: Handler

    @property
    def stored(self) -> bool:
        """Whether its answer is kept under the idempotency key (every POST)."""
        return self.method == "POST"


def _body(call: HTTPCall) -> Fields:
    return Fields(api.json_body(call.body))


def _own_terminal(caller: Caller, terminal_hex: str, what: str) -> None:
    if terminal_hex != caller.terminal.terminal_id:
        raise ForbiddenRequestError(
            "other_terminal", f"{what} names terminal {terminal_hex}, not the authenticated "
                              f"{caller.terminal.terminal_id}")


# -- the link's methods ----------------------------------------------------------------------


def earn_quotes(caller: Caller, call: HTTPCall) -> Answer:
    f = _body(call)
    merchant = caller.terminal.merchant_id
    if f.has("merchant_id") and f.ident("merchant_id") != merchant:
        raise ForbiddenRequestError("other_merchant", f"the terminal acts for {merchant} only")
    quotes = caller.link.earn_quotes(
        merchant_id=merchant, card_id=f.ident("card_id"), method=api.method_of(f, "method"),
        purchase_fen=f.integer("purchase_fen", 1, 2**48), at=f.time("at", aware=True))
    return 200, {"quotes": [api.quote_to_json(q) for q in quotes]}


def load_key_index(caller: Caller, call: HTTPCall) -> Answer:
    f = Fields(dict(call.params))
    card_id, purse = f.ident("card_id"), f.purse("purse")
    return 200, {"card_id": card_id, "purse": purse.label,
                 "key_index": caller.link.load_key_index(card_id, purse)}


def authorize_load(caller: Caller, call: HTTPCall) -> Answer:
    f = _body(call)
    init = api.load_init_of(f.obj("init"))
    _own_terminal(caller, init.terminal_id.hex().upper(), "the load")
    sale = api.sale_of(f.obj("sale"), caller.terminal.terminal_id) if f.has("sale") \
        else SaleClaim()
    authorization = caller.link.authorize_load(f.ident("card_id"), init,
                                               f.time("when", aware=False), sale=sale)
    return 200, api.authorization_to_json(authorization)


def confirm_load(caller: Caller, call: HTTPCall) -> Answer:
    f = _body(call)
    authorization = api.authorization_of(f.obj("authorization"))
    _own_terminal(caller, authorization.init.terminal_id.hex().upper(), "the load")
    record = caller.link.confirm_load(authorization, f.hexbytes("tac", 4))
    return 200, {"record": record.as_dict()}


def redeem(caller: Caller, call: HTTPCall) -> Answer:
    f = _body(call)
    receipt = caller.link.redeem(
        redemption_id=f.ident("redemption_id"), card_id=f.ident("card_id"),
        purse=f.purse("purse"), points=f.integer("points", 1, 2**48),
        at=f.time("at", aware=True),
        debit=api.debit_of(f, "debit", caller.terminal.terminal_id),
        insurer_id=f.optional_ident("insurer_id"),
        policy=f.optional_ident("policy"))
    return 200, api.redemption_to_json(receipt)


def upload(caller: Caller, call: HTTPCall) -> Answer:
    try:
        batch = parse_batch(api.json_body(call.body))
    except InvalidRecordError as exc:
        raise api.batch_field(exc) from None
    _own_terminal(caller, batch.terminal_id, "the batch")
    at = Fields(dict(call.query)).time("at", aware=True) if call.query.get("at") else caller.now
    return 200, api.upload_receipt_to_json(caller.link.upload(batch, at=at))


def scripts_delivered(caller: Caller, call: HTTPCall) -> Answer:
    f = _body(call)
    script_ids = api.strings_of(f, "script_ids")
    caller.link.scripts_delivered(script_ids, at=f.time("at", aware=True))
    return 200, {"script_ids": list(script_ids)}


def reverse(caller: Caller, call: HTTPCall) -> Answer:
    """The ISO door's reversal (0400) as JSON: the authorisation this terminal sent under
    ``stan`` at ``sent_at`` (its DE 7), repeating its ARQC and amount (:mod:`.holds`)."""
    f = _body(call)
    reversal = Reversal(caller.terminal, f.integer("stan", 1, 999_999),
                        f.time("sent_at", aware=True),
                        f.hexbytes("arqc", 8) if f.has("arqc") else None,
                        f.integer("amount", 1, 10**12 - 1))
    try:
        outcome = AuthorisationHolds(caller.services).reverse(reversal, now=caller.now)
    except ReversalRefusedError as exc:
        if exc.code is ResponseCode.INVALID_TRANSACTION:
            return 409, {"error": {"code": "not_the_authorisation", "message": str(exc)}}
        raise ForbiddenRequestError("other_merchant" if exc.code is ResponseCode.INVALID_MERCHANT
                                    else "other_terminal", str(exc)) from None
    return 200, {"stan": reversal.stan, "status": outcome.value}


def authorise_stripe(caller: Caller, call: HTTPCall) -> Answer:
    f = _body(call)
    decision = caller.link.authorise_stripe(api.track2_of(f, "track2"),
                                            f.integer("amount", 1, 2**48),
                                            card_id=f.optional_ident("card_id"))
    return 200, api.stripe_decision_to_json(decision)


def check_holder(caller: Caller, call: HTTPCall) -> Answer:
    """The authentication centre: PIN, delivery address, credit (:mod:`.holder_checks`)."""
    return 200, check_holder_http(caller.services.authentication_centre,
                                  caller.terminal.terminal_id, call.body)


# -- queries ---------------------------------------------------------------------------------


def balances(caller: Caller, call: HTTPCall) -> Answer:
    """The card's points on the ledger (what clearing posted, not what the chip holds)."""
    card_id = Fields(dict(call.params)).ident("card_id")
    member = caller.link.holder(card_id)
    wanted = {account_id(member.id, asset.value): purse for purse, asset in PURSE_ASSETS.items()}
    accounts = caller.services.office.ledger.accounts(list(wanted))
    found = {wanted[a.id].label: {"posted": a.balance.posted, "available": a.balance.available}
             for a in accounts}
    return 200, {"card_id": card_id, "member_id": member.id,
                 "balances": {p.label: found.get(p.label, {"posted": 0, "available": 0})
                              for p in PURSE_ASSETS}}


def batch_status(caller: Caller, call: HTTPCall) -> Answer:
    """A batch of this terminal: cleared (with its summary), rejected (with the reasons of
    its last refusal), or unknown (404)."""
    batch_id = Fields(dict(call.params)).ident("batch_id")
    terminal_id = caller.terminal.terminal_id
    rejections = bo_batch_rejections.c
    with caller.services.db.read() as conn:
        cleared = conn.execute(select(bo_batches.c.terminal_id, bo_batches.c.summary)
                               .where(bo_batches.c.id == batch_id)).first()
        refused = conn.execute(select(rejections.reasons)
                               .where(rejections.batch_id == batch_id,
                                      rejections.terminal_id == terminal_id)
                               .order_by(rejections.seq.desc()).limit(1)).first()
    if cleared is not None and cleared.terminal_id == terminal_id:
        return 200, {"batch_id": batch_id, "status": "cleared",
                     "summary": json.loads(cleared.summary)}
    if cleared is None and refused is not None:
        return 200, {"batch_id": batch_id, "status": "rejected",
                     "rejections": json.loads(refused.reasons)}
    return 404, {"error": {"code": "not_found",
                           "message": f"no batch {batch_id} of this terminal"}}


OPERATIONS: tuple[Operation, ...] = (
    Operation("earnQuotes", "POST", "/v1/earn-quotes", earn_quotes),
    Operation("loadKeyIndex", "GET", "/v1/cards/{card_id}/purses/{purse}/load-key-index",
              load_key_index),
    Operation("authorizeLoad", "POST", "/v1/loads", authorize_load),
    Operation("confirmLoad", "POST", "/v1/loads/confirmations", confirm_load),
    Operation("redeem", "POST", "/v1/redemptions", redeem),
    Operation("uploadBatch", "POST", "/v1/batches", upload),
    Operation("scriptsDelivered", "POST", "/v1/scripts/delivered", scripts_delivered),
    Operation("authoriseStripe", "POST", "/v1/stripe-authorisations", authorise_stripe),
    Operation("checkHolder", "POST", "/v1/holder-checks", check_holder),
    Operation("reverseAuthorisation", "POST", "/v1/reversals", reverse),
    Operation("requestPayment", "POST", "/v1/payments", request_payment),
    Operation("paymentStatus", "GET", "/v1/payments/{payment_id}", payment_status),
    Operation("releasePayment", "POST", "/v1/payments/{payment_id}/releases", release_payment),
    Operation("payPrepaid", "POST", "/v1/prepaid/payments", pay_prepaid),
    Operation("cardBalances", "GET", "/v1/cards/{card_id}/balances", balances),
    Operation("batchStatus", "GET", "/v1/batches/{batch_id}", batch_status),
)
