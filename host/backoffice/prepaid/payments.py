"""Payments, refunds and expiries on a network account's sub-cards (F13, F15): the cards
act as one card (the order in :mod:`drawing`), every draw is a posting and a live record,
each operation one linked chain in one transaction; the same request id posts once. The
network account's row is locked first (PostgreSQL), so two payments on one account never
both read the same live balances."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from host.backoffice.assets import check_amount
from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.prepaid.drawing import Draw, draw
from host.backoffice.prepaid.errors import MerchantFrozenError
from host.backoffice.prepaid.postings import Chain
from host.backoffice.prepaid.program_store import find_program
from host.backoffice.prepaid.programs import ProgramKind
from host.backoffice.prepaid.records import (
    Card,
    Movement,
    cards_by_number,
    load_cards,
    record_movements,
    set_status,
)
from host.backoffice.prepaid.requests import answered, remember
from host.backoffice.prepaid.schema import pp_accounts, pp_cards, pp_requests
from host.backoffice.transfers import Reason, Source, SourceKind

__all__ = ["PayRequest", "expire_due", "pay", "refund"]

_C = pp_cards


@dataclass(frozen=True, slots=True)
class PayRequest:
    """A payment of ``price`` (fen; for a count card: uses) from a network account at the
    program's merchant."""

    request_id: str
    account_id: str
    price: int
    merchant_id: str | None = None

    def body(self) -> dict[str, Any]:
        return {"account": self.account_id, "price": self.price, "merchant": self.merchant_id}


def pay(db: Database, ledger: Ledger, request: PayRequest, *, at: datetime) -> dict[str, Any]:
    """Pay from the account's usable cards; refuses (nothing posted) above their value, on a
    frozen account or at another merchant."""
    check_amount(request.price, what="payment")
    with db.write() as conn:
        first = answered(db, conn, "pay", request.request_id, request.body())
        if first is not None:
            return first
        db.lock_rows(conn, pp_accounts, [request.account_id])  # one writer per account
        cards = _usable_cards(conn, request, at)
        program = find_program(conn, cards[0].program_id)
        if request.merchant_id not in (None, program.merchant_id):
            raise ValidationError(f"{request.account_id} is a card of {program.merchant_id}, "
                                  f"not of {request.merchant_id}")
        charged = program.charge(request.price)
        if program.kind is ProgramKind.COUNT:
            charged = request.price * (program.use_price or 1)
        draws = draw([c.view() for c in cards], charged)
        balances = _post(conn, ledger, "pay", request.request_id, cards, draws, at)
        answer = {"payment": request.request_id, "account": request.account_id,
                  "merchant": program.merchant_id, "price": request.price,
                  "charged": charged, "draws": _draw_lines(draws, balances),
                  "balance": sum(balances.values()) + _untouched(cards, balances)}
        return remember(conn, "pay", request.request_id, request.body(), answer, at=at)


def _usable_cards(conn: Connection, request: PayRequest, at: datetime) -> list[Card]:
    cards = load_cards(conn, _C.c.account_id == request.account_id)
    if not cards:
        raise NotFoundError(f"no prepaid account {request.account_id!r}")
    if any(c.status in ("frozen", "claimed") for c in cards):
        raise MerchantFrozenError(f"{request.account_id}: its cards are frozen by a claim")
    now = to_micros(at)
    usable = [c for c in cards if c.status == "active"
              and (c.expires_at is None or c.expires_at > now)]
    if not usable:
        raise MerchantFrozenError(f"{request.account_id}: no usable card (all expired)")
    return usable


def _post(conn: Connection, ledger: Ledger, op: str, request_id: str, cards: list[Card],
          draws: list[Draw], at: datetime, *, into_cards: bool = False) -> dict[str, int]:
    """Post the draws as one chain and record them; returns each drawn card's balance
    after."""
    by_no = {c.card_no: c for c in cards}
    merchant = cards[0].merchant_id
    chain = Chain(op, request_id, Source(SourceKind.MERCHANT, merchant))
    movements: list[Movement] = []
    sign = 1 if into_cards else -1
    for d in draws:
        if into_cards:
            tid = chain.card_in(merchant, d.card_no, d.amount, refund=True)
        else:
            reason = Reason.ADJUSTMENT if op == "expire" else Reason.REDEEM
            tid = chain.card_out(merchant, d.card_no, d.amount, reason)
        movements.append((d.card_no, op, sign * d.principal, sign * d.bonus, tid))
    ledger.apply(conn, chain.closed(), at=at, all_or_nothing=True)
    record_movements(conn, request_id, movements,
                     {c.card_no: (c.principal_left, c.bonus_left) for c in cards}, at=at)
    return {d.card_no: by_no[d.card_no].balance + sign * d.amount for d in draws}


def _draw_lines(draws: list[Draw], balances: dict[str, int]) -> list[dict[str, Any]]:
    return [{"card": d.card_no, "amount": d.amount, "principal": d.principal,
             "bonus": d.bonus, "balance_after": balances[d.card_no]} for d in draws]


def _untouched(cards: list[Card], balances: dict[str, int]) -> int:
    return sum(c.balance for c in cards if c.card_no not in balances)


def refund(db: Database, ledger: Ledger, payment_id: str, *, at: datetime) -> dict[str, Any]:
    """Give a payment back to the cards it was drawn from, part for part (principal to
    principal, bonus to bonus). A payment is refunded once: the refund's id is the
    payment's."""
    with db.write() as conn:
        first = answered(db, conn, "refund", payment_id, {"payment": payment_id})
        if first is not None:
            return first
        row = conn.execute(select(pp_requests.c.result)
                           .where(pp_requests.c.id == f"pay/{payment_id}")).first()
        if row is None:
            raise NotFoundError(f"no prepaid payment {payment_id!r}")
        paid = json.loads(row.result)
        db.lock_rows(conn, pp_accounts, [paid["account"]])
        draws = [Draw(d["card"], d["amount"], d["principal"], d["bonus"]) for d in paid["draws"]]
        cards = cards_by_number(conn, [d.card_no for d in draws])
        frozen = [no for no, c in cards.items() if c.status != "active"]
        if frozen:
            raise MerchantFrozenError(f"card {frozen[0]} is {cards[frozen[0]].status}: "
                                      "no refund onto it")
        balances = _post(conn, ledger, "refund", payment_id, list(cards.values()), draws, at,
                         into_cards=True)
        answer = {"refund": payment_id, "account": paid["account"],
                  "amount": paid["charged"], "draws": _draw_lines(draws, balances)}
        return remember(conn, "refund", payment_id, {"payment": payment_id}, answer, at=at)


def expire_due(db: Database, ledger: Ledger, *, at: datetime) -> dict[str, Any]:
    """Expire every active card whose validity has ended: its value leaves it (and its money
    custody) with a live record; the card is then ``expired``."""
    with db.write() as conn:
        conditions = (_C.c.status == "active", _C.c.expires_at.isnot(None),
                      _C.c.expires_at <= to_micros(at))
        db.lock_rows(conn, pp_accounts, [c.account_id for c in load_cards(conn, *conditions)])
        due = load_cards(conn, *conditions)  # as they are now that no payment can move them
        lines = []
        for card in due:
            if card.balance:
                draws = [Draw(card.card_no, card.balance, card.principal_left, card.bonus_left)]
                _post(conn, ledger, "expire", card.card_no, [card], draws, at)
            lines.append({"card": card.card_no, "expired": card.balance})
        set_status(conn, [c.card_no for c in due], "expired")
    return {"expired": lines, "total": sum(line["expired"] for line in lines)}
