"""Escrowed orders in the database: placing one (a ledger hold on the virtual account),
releasing it in full or in part, voiding it, and the scheduler's pass over orders due or
expired. The decisions are :mod:`.order_rules`'; this module reads, locks and writes.

Every request carries a client id: a request repeated answers its first outcome and moves
nothing again. An order is locked for the length of a request (PostgreSQL advisory lock;
SQLite's write lock), and the ledger resolves a hold at most once whatever happens (a unique
index on the pending id), so two releases racing cannot both post.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from host.backoffice.assets import Asset, check_amount
from host.backoffice.centre.categories import category_for_mcc
from host.backoffice.centre.errors import OrderRefusedError
from host.backoffice.centre.holders import Holder, lock_holders, lock_tiers, member_kinds
from host.backoffice.centre.order_rules import (
    Condition,
    Order,
    OrderState,
    ReleaseBy,
    check_voidable,
    release_amount,
)
from host.backoffice.centre.release_codes import code_matches, new_code
from host.backoffice.centre.tables import sc_order_events, sc_orders
from host.backoffice.centre.tiers import yuan
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import chunked
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, Role, account_id
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.posting import AccountState
from host.backoffice.schema import FORMAT_VERSION, ledger_accounts
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer, TransferCode

__all__ = [
    "OrderRequest",
    "Outcome",
    "expire_orders",
    "load_order",
    "orders_due",
    "place_order",
    "release_order",
    "void_order",
]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    order_id: str
    holder_id: str
    merchant_id: str
    amount: int
    condition: Condition
    address: str
    expires_at: datetime
    release_at: datetime | None = None
    mcc: int = 5999

    def __post_init__(self) -> None:
        check_amount(self.amount, what="order amount")
        if (self.condition is Condition.DATE) != (self.release_at is not None):
            raise ValidationError("a release date goes with the date condition, and only it")
        if self.release_at is not None and self.release_at >= self.expires_at:
            raise ValidationError("the release date must come before the order expires")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a release or void did (or, for a wrong code, refused while counting a try)."""

    order: Order
    moved: int
    refusal: str | None = None
    message: str = ""
    repaid: int = 0
    repeated: bool = False  #: the answer to a request seen before (nothing moved now)
    key: str = ""  #: ``<order>/<request id>`` of the request answered


@dataclass(frozen=True, slots=True)
class ReleaseItem:
    """One release request of a batch: the order, the client's request id, how much (None:
    all that is held) and, for a release by code, the code entered."""

    order_id: str
    request_id: str
    amount: int | None = None
    code: str | None = None


def place_order(
    conn: Connection, ledger: Ledger, req: OrderRequest, *, at: datetime
) -> tuple[Order, str | None, str]:
    """Hold an order's amount; returns the order, the release code (a code order's first
    answer only: it is never stored in clear) and ``created``/``exists``."""
    return place_orders(conn, ledger, [req], at=at)[0]


def place_orders(
    conn: Connection, ledger: Ledger, reqs: Sequence[OrderRequest], *, at: datetime
) -> list[tuple[Order, str | None, str]]:
    """Hold many orders in one transaction, all or none (a shop's batch, the benchmark):
    one refusal refuses the batch. Orders already placed are answered ``exists``."""
    known = {r.id: r for r in _order_rows(conn, [q.order_id for q in reqs])}
    answers: dict[str, tuple[Order, str | None, str]] = {
        q.order_id: (_same_order(Order.from_row(known[q.order_id]), q), None, "exists")
        for q in reqs if q.order_id in known}
    fresh = [q for q in reqs if q.order_id not in known]
    if len({q.order_id for q in fresh}) != len(fresh):
        raise ValidationError("an order id appears twice in the batch")
    if fresh:
        holders = lock_holders(conn, ledger, [q.holder_id for q in fresh])
        _authenticate(conn, ledger, holders, fresh)
        placed = [_new_order(q, holders[q.holder_id]) for q in fresh]
        _apply(conn, ledger, [hold for _, hold, _, _ in placed], at)
        ledger.db.insert_rows(conn, sc_orders, _ORDER_COLUMNS,
                              [(*(row[c] for c in _ORDER_COLUMNS[:-1]), to_micros(at))
                               for _, _, row, _ in placed])
        answers.update({o.id: (o, code, "created") for o, _, _, code in placed})
    return [answers[q.order_id] for q in reqs]


def _new_order(req: OrderRequest, holder: Holder
               ) -> tuple[Order, Transfer, dict[str, Any], str | None]:
    """The order, its hold, its row and its code (None unless a code order)."""
    code, salt, digest = new_code() if req.condition is Condition.CODE else (None, None, None)
    hold_id = f"sc:order:{req.order_id}:hold:0"
    category = category_for_mcc(req.mcc)
    hold = Transfer.hold(
        hold_id, holder.virtual, account_id(req.merchant_id, Role.CNY), req.amount, Asset.CNY,
        Source(SourceKind.MEMBER, req.holder_id), reason=Reason.ORDER_PAYMENT,
        expires_at=req.expires_at, details={"order": req.order_id, "category": category})
    release_at = None if req.release_at is None else to_micros(req.release_at)
    order = Order(req.order_id, req.holder_id, req.merchant_id, req.amount, 0, OrderState.HELD,
                  req.condition, release_at, to_micros(req.expires_at), 0, hold_id, 0,
                  category, req.address)
    row = {"id": order.id, "holder_id": order.holder_id, "merchant_id": order.merchant_id,
           "amount": order.amount, "released": 0, "state": order.state.value,
           "condition": order.condition.value, "release_at": release_at,
           "expires_at": order.expires_at, "code_salt": salt, "code_digest": digest,
           "code_tries": 0, "hold_id": hold_id, "hold_seq": 0, "category": category,
           "address": req.address, "closed_at": None, "format_version": FORMAT_VERSION}
    return order, hold, row, code


def _authenticate(conn: Connection, ledger: Ledger, holders: dict[str, Holder],
                  reqs: Sequence[OrderRequest]) -> None:
    """F22's checks, each refusal with its reason: a merchant, an address on file, room
    on the credit line (orders of one batch counted together)."""
    kinds = member_kinds(conn, {q.merchant_id for q in reqs})
    rooms = {}
    rows = ledger.db.lock_rows(conn, ledger_accounts, [h.virtual for h in holders.values()])
    for state in map(AccountState.from_row, rows):
        rooms[state.id] = state.balance().available - (state.lower_bound or 0)
    for req in reqs:
        holder = holders[req.holder_id]
        if kinds.get(req.merchant_id) is not MemberKind.MERCHANT:
            raise OrderRefusedError("unknown_merchant", f"no merchant {req.merchant_id!r}")
        if req.address not in holder.addresses:
            raise OrderRefusedError("address_not_on_file",
                                    f"delivery address {req.address!r} is not on file for "
                                    f"{holder.holder_id}")
        room = rooms[holder.virtual]
        if req.amount > room:
            raise OrderRefusedError("over_credit_line",
                                    f"order {req.order_id}: {yuan(req.amount)} CNY is over the "
                                    f"{yuan(max(room, 0))} CNY {holder.holder_id} has left "
                                    "with its credit line")
        rooms[holder.virtual] = room - req.amount


def release_order(
    conn: Connection, ledger: Ledger, order_id: str, request_id: str, *, by: ReleaseBy,
    amount: int | None, code: str | None, at: datetime,
) -> Outcome:
    """Release (part of) an order; see the module docstring. A wrong code is an outcome with
    a refusal, recorded (its try counted) before the caller raises it."""
    item = ReleaseItem(order_id, request_id, amount, code)
    return release_orders(conn, ledger, [item], by=by, at=at)[0]


def release_orders(
    conn: Connection, ledger: Ledger, items: Sequence[ReleaseItem], *, by: ReleaseBy,
    at: datetime,
) -> list[Outcome]:
    """Release many orders in one transaction (the scheduler's due orders, a holder's
    acceptances): every check first, then one posting of every hold; a refusal other than a
    wrong code refuses the batch."""
    if any(not i.request_id for i in items):
        raise ValidationError("a request id is required")
    for order_id in sorted({i.order_id for i in items}):
        ledger.db.lock_key(conn, f"sc-order:{order_id}")
    rows = {r.id: r for r in _order_rows(conn, [i.order_id for i in items])}
    missing = [i.order_id for i in items if i.order_id not in rows]
    if missing:
        raise NotFoundError(f"no order {missing[0]!r}")
    events = _events(conn, [_key(i) for i in items])
    lock_holders(conn, ledger, [rows[i.order_id].holder_id for i in items])
    outcomes: dict[str, Outcome] = {}
    moves: list[_Release] = []
    for item in items:
        key, order = _key(item), Order.from_row(rows[item.order_id])
        if key in events:
            outcomes[key] = _repeated(events[key], order)
        elif by is ReleaseBy.CODE and not code_matches(item.code or "", rows[order.id].code_salt,
                                                       rows[order.id].code_digest):
            release_amount(order, by, item.amount, to_micros(at))  # locked or closed first
            outcomes[key] = _wrong_code(conn, order, key, at)
        else:
            moves.append(_release(order, key, release_amount(order, by, item.amount,
                                                             to_micros(at))))
    if len({m.after.id for m in moves}) != len(moves):
        raise ValidationError("an order is released twice in the batch")
    _post_releases(conn, ledger, moves, by, at)
    outcomes.update({m.key: Outcome(m.after, m.moved, key=m.key) for m in moves})
    return [outcomes[_key(i)] for i in items]


@dataclass(frozen=True, slots=True)
class _Release:
    key: str
    after: Order
    moved: int
    transfers: tuple[Transfer, ...]


def _release(order: Order, key: str, moved: int) -> _Release:
    """The transfers of one release (a post; for a part, linked to a hold of the rest) and
    the order after it."""
    seq, left = order.hold_seq, order.remaining - moved
    details = {"order": order.id, "category": order.category}
    post = Transfer.post(f"sc:order:{order.id}:post:{seq}", order.hold_id, _CENTRE,
                         amount=moved, linked=left > 0, details=details)
    if not left:
        after = replace(order, released=order.amount, state=OrderState.RELEASED)
        return _Release(key, after, moved, (post,))
    rehold = Transfer.hold(
        f"sc:order:{order.id}:hold:{seq + 1}", f"{order.holder_id}:virtual",
        account_id(order.merchant_id, Role.CNY), left, Asset.CNY, _CENTRE,
        reason=Reason.ORDER_PAYMENT, expires_at=from_micros(order.expires_at), details=details)
    after = replace(order, released=order.released + moved, hold_id=rehold.id,
                    hold_seq=seq + 1)
    return _Release(key, after, moved, (post, rehold))


def _post_releases(conn: Connection, ledger: Ledger, moves: Sequence[_Release], by: ReleaseBy,
                   at: datetime) -> None:
    if not moves:
        return
    _apply(conn, ledger, [t for m in moves for t in m.transfers], at)
    now = to_micros(at)
    conn.execute(update(sc_orders).where(sc_orders.c.id == bindparam("b_id")).values(
        released=bindparam("b_released"), hold_seq=bindparam("b_seq"),
        hold_id=bindparam("b_hold"), state=bindparam("b_state"), closed_at=bindparam("b_closed"),
    ), [{"b_id": m.after.id, "b_released": m.after.released, "b_seq": m.after.hold_seq,
         "b_hold": m.after.hold_id, "b_state": m.after.state.value,
         "b_closed": now if m.after.state is OrderState.RELEASED else None} for m in moves])
    # the holder's notice, and the merchant's: the result of its payment request
    post_notices(conn, [Notice(f"order-released:{m.key}:{to}", recipient,
                               MessageKind.ORDER_RELEASED,
                               {"order": m.after.id, "amount": m.moved, "by": by.value,
                                "merchant": m.after.merchant_id, "held": m.after.held})
                        for m in moves
                        for to, recipient in (("holder", m.after.holder_id),
                                              ("merchant", m.after.merchant_id))], at=at)
    ledger.db.insert_rows(conn, sc_order_events, _EVENT_COLUMNS, [
        (m.key, m.after.id, "release", m.moved, _NO_REFUSAL, now, FORMAT_VERSION)
        for m in moves])


def void_order(
    conn: Connection, ledger: Ledger, order_id: str, request_id: str, *, at: datetime
) -> Outcome:
    """Cancel an order: its hold is voided, the whole remainder returns to the holder."""
    order, key = _lock(conn, ledger, order_id, request_id)
    repeat = _repeat(conn, key, order)
    if repeat is not None:
        return repeat
    check_voidable(order, to_micros(at))
    lock_tiers(conn, ledger, order.holder_id)
    _apply(conn, ledger, [Transfer.void(f"sc:order:{order_id}:void", order.hold_id,
                                        Source(SourceKind.SYSTEM, "centre"))], at)
    conn.execute(update(sc_orders).where(sc_orders.c.id == order_id).values(
        state=OrderState.VOIDED.value, closed_at=to_micros(at)))
    after = Order.from_row(_order_row(conn, order_id))
    return _record(conn, key, "void", Outcome(after, order.remaining), at)


def orders_due(conn: Connection, at: datetime) -> list[str]:
    """Held date orders whose release date has come and that have not expired."""
    now = to_micros(at)
    query = select(sc_orders.c.id).where(
        sc_orders.c.state == OrderState.HELD.value, sc_orders.c.condition == "date",
        sc_orders.c.release_at <= now, sc_orders.c.expires_at > now)
    return list(conn.execute(query.order_by(sc_orders.c.id)).scalars())


def expire_orders(conn: Connection, ledger: Ledger, at: datetime) -> list[str]:
    """Mark held orders past their expiry as expired (the ledger expires their holds)."""
    ledger.apply(conn, [], at=at)
    now = to_micros(at)
    query = select(sc_orders.c.id).where(sc_orders.c.state == OrderState.HELD.value,
                                         sc_orders.c.expires_at <= now)
    ids = list(conn.execute(query.order_by(sc_orders.c.id)).scalars())
    if ids:
        conn.execute(update(sc_orders).where(sc_orders.c.id.in_(ids)).values(
            state=OrderState.EXPIRED.value, closed_at=now))
    return ids


def load_order(conn: Connection, order_id: str) -> Order:
    row = _order_row(conn, order_id)
    if row is None:
        raise NotFoundError(f"no order {order_id!r}")
    return Order.from_row(row)


# -- internals ---------------------------------------------------------------------------------


def _lock(conn: Connection, ledger: Ledger, order_id: str, request_id: str) -> tuple[Order, str]:
    ledger.db.lock_key(conn, f"sc-order:{order_id}")
    if not request_id:
        raise ValidationError("a request id is required")
    return load_order(conn, order_id), f"{order_id}/{request_id}"


def _wrong_code(conn: Connection, order: Order, key: str, at: datetime) -> Outcome:
    tries = order.code_tries + 1
    conn.execute(update(sc_orders).where(sc_orders.c.id == order.id).values(code_tries=tries))
    after = Order.from_row(_order_row(conn, order.id))
    if after.code_locked:
        post_notices(conn, [Notice(f"code-locked:{order.id}", order.holder_id,
                                   MessageKind.RELEASE_CODE_LOCKED, {"order": order.id})], at=at)
    message = f"order {order.id}: wrong release code ({tries} of the tries allowed used)"
    return _record(conn, key, "code_wrong", Outcome(after, 0, "wrong_code", message), at)


_CENTRE = Source(SourceKind.SYSTEM, "centre")
_ORDER_COLUMNS = ("id", "holder_id", "merchant_id", "amount", "released", "state", "condition",
                  "release_at", "expires_at", "code_salt", "code_digest", "code_tries",
                  "hold_id", "hold_seq", "category", "address", "closed_at", "format_version",
                  "created_at")
_EVENT_COLUMNS = ("request_id", "order_id", "kind", "amount", "outcome", "ts",
                  "format_version")
_NO_REFUSAL = json.dumps({"refusal": None, "message": ""})


def _record(conn: Connection, key: str, kind: str, outcome: Outcome, at: datetime) -> Outcome:
    conn.execute(insert(sc_order_events).values(
        request_id=key, order_id=outcome.order.id, kind=kind, amount=outcome.moved,
        outcome=json.dumps({"refusal": outcome.refusal, "message": outcome.message}),
        ts=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return outcome


def _repeat(conn: Connection, key: str, order: Order) -> Outcome | None:
    row = _events(conn, [key]).get(key)
    return None if row is None else _repeated(row, order)


def _repeated(row: Any, order: Order) -> Outcome:
    stored = json.loads(row.outcome)
    return Outcome(order, row.amount, stored["refusal"], stored["message"], repeated=True)


def _events(conn: Connection, keys: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in chunked(sorted(set(keys))):
        query = select(sc_order_events).where(sc_order_events.c.request_id.in_(part))
        found.update({r.request_id: r for r in conn.execute(query)})
    return found


def _key(item: ReleaseItem) -> str:
    return f"{item.order_id}/{item.request_id}"


def _apply(conn: Connection, ledger: Ledger, chain: list[Transfer], at: datetime) -> None:
    """Post an order's transfers; a ledger refusal becomes the order's refusal. Their ids
    are new by construction (an order id is new, a hold's sequence number only grows, and
    both are written in the same transaction), so the ledger skips its look-up of them."""
    plan = ledger.apply(conn, chain, at=at, ids_are_new=True)
    failed = [r for r in plan.results
              if not r.ok and r.code is not TransferCode.LINKED_EVENT_FAILED]
    if not failed:
        return
    code = failed[0].code
    if code is TransferCode.EXCEEDS_LOWER_BOUND:
        raise OrderRefusedError("over_credit_line", f"{chain[0].id}: over the credit line")
    if code is TransferCode.CREDIT_ACCOUNT_NOT_FOUND:
        raise OrderRefusedError("unknown_merchant", f"{chain[0].id}: the merchant has no account")
    raise OrderRefusedError(code.value, f"{chain[0].id}: refused by the ledger ({code.value})")


def _order_rows(conn: Connection, order_ids: Sequence[str]) -> list[Any]:
    rows: list[Any] = []
    for part in chunked(sorted(set(order_ids))):
        rows.extend(conn.execute(select(sc_orders).where(sc_orders.c.id.in_(part))))
    return rows


def _order_row(conn: Connection, order_id: str) -> Any:
    return conn.execute(select(sc_orders).where(sc_orders.c.id == order_id)).first()


def _same_order(order: Order, req: OrderRequest) -> Order:
    given = (req.holder_id, req.merchant_id, req.amount, req.condition)
    if (order.holder_id, order.merchant_id, order.amount, order.condition) != given:
        raise IdReusedError("order", req.order_id, "content")
    return order
