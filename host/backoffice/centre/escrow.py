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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from host.backoffice.assets import Asset, check_amount
from host.backoffice.centre.categories import category_for_mcc
from host.backoffice.centre.errors import OrderRefusedError
from host.backoffice.centre.holders import Holder, lock_tiers
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
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, Role, account_id, find_member
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


def place_order(
    conn: Connection, ledger: Ledger, req: OrderRequest, *, at: datetime
) -> tuple[Order, str | None, str]:
    """Hold an order's amount; returns the order, the release code (a code order's first
    answer only: it is never stored in clear) and ``created``/``exists``."""
    known = _order_row(conn, req.order_id)
    if known is not None:
        return _same_order(Order.from_row(known), req), None, "exists"
    holder = lock_tiers(conn, ledger, req.holder_id)
    _authenticate(conn, ledger, holder, req)
    code, salt, digest = new_code() if req.condition is Condition.CODE else (None, None, None)
    hold_id = f"sc:order:{req.order_id}:hold:0"
    category = category_for_mcc(req.mcc)
    _apply(conn, ledger, [Transfer.hold(
        hold_id, holder.virtual, account_id(req.merchant_id, Role.CNY), req.amount, Asset.CNY,
        Source(SourceKind.MEMBER, req.holder_id), reason=Reason.ORDER_PAYMENT,
        expires_at=req.expires_at, details={"order": req.order_id, "category": category},
    )], at)
    conn.execute(insert(sc_orders).values(
        id=req.order_id, holder_id=req.holder_id, merchant_id=req.merchant_id,
        amount=req.amount, released=0, state=OrderState.HELD.value,
        condition=req.condition.value,
        release_at=None if req.release_at is None else to_micros(req.release_at),
        expires_at=to_micros(req.expires_at), code_salt=salt, code_digest=digest,
        code_tries=0, hold_id=hold_id, hold_seq=0, category=category, address=req.address,
        created_at=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return Order.from_row(_order_row(conn, req.order_id)), code, "created"


def _authenticate(conn: Connection, ledger: Ledger, holder: Holder, req: OrderRequest) -> None:
    """F22's checks, each refusal with its reason."""
    try:
        merchant = find_member(conn, req.merchant_id)
    except NotFoundError:
        raise OrderRefusedError("unknown_merchant", f"no merchant {req.merchant_id!r}") from None
    if merchant.kind is not MemberKind.MERCHANT:
        raise OrderRefusedError("unknown_merchant", f"{req.merchant_id} is not a merchant")
    if req.address not in holder.addresses:
        raise OrderRefusedError("address_not_on_file",
                                f"delivery address {req.address!r} is not on file for "
                                f"{holder.holder_id}")
    [row] = ledger.db.lock_rows(conn, ledger_accounts, [holder.virtual])
    state = AccountState.from_row(row)
    room = state.balance().available - (state.lower_bound or 0)
    if req.amount > room:
        raise OrderRefusedError("over_credit_line",
                                f"order {req.order_id}: {yuan(req.amount)} CNY is over the "
                                f"{yuan(max(room, 0))} CNY {holder.holder_id} has left with "
                                "its credit line")


def release_order(
    conn: Connection, ledger: Ledger, order_id: str, request_id: str, *, by: ReleaseBy,
    amount: int | None, code: str | None, at: datetime,
) -> Outcome:
    """Release (part of) an order; see the module docstring. A wrong code is an outcome with
    a refusal, recorded (its try counted) before the caller raises it."""
    order, key = _lock(conn, ledger, order_id, request_id)
    repeat = _repeat(conn, key, order)
    if repeat is not None:
        return repeat
    lock_tiers(conn, ledger, order.holder_id)
    moved = release_amount(order, by, amount, to_micros(at))
    if by is ReleaseBy.CODE and not _code_ok(conn, order_id, code or ""):
        return _wrong_code(conn, order, key, at)
    seq = order.hold_seq
    post = Transfer.post(f"sc:order:{order_id}:post:{seq}", order.hold_id,
                         Source(SourceKind.SYSTEM, "centre"), amount=moved,
                         linked=moved < order.remaining,
                         details={"order": order_id, "category": order.category})
    chain = [post]
    if moved < order.remaining:
        chain.append(_rehold(conn, order, seq + 1, order.remaining - moved))
    _apply(conn, ledger, chain, at)
    done = moved == order.remaining
    conn.execute(update(sc_orders).where(sc_orders.c.id == order_id).values(
        released=order.released + moved, hold_seq=seq + (0 if done else 1),
        hold_id=order.hold_id if done else chain[-1].id,
        state=OrderState.RELEASED.value if done else OrderState.HELD.value,
        closed_at=to_micros(at) if done else None,
    ))
    after = Order.from_row(_order_row(conn, order_id))
    post_notices(conn, [Notice(f"order-released:{key}", order.holder_id,
                               MessageKind.ORDER_RELEASED,
                               {"order": order_id, "amount": moved, "by": by.value,
                                "merchant": order.merchant_id})], at=at)
    return _record(conn, key, "release", Outcome(after, moved), at)


def _rehold(conn: Connection, order: Order, seq: int, remainder: int) -> Transfer:
    expires = from_micros(_order_row(conn, order.id).expires_at)
    return Transfer.hold(
        f"sc:order:{order.id}:hold:{seq}", f"{order.holder_id}:virtual",
        account_id(order.merchant_id, Role.CNY), remainder, Asset.CNY,
        Source(SourceKind.SYSTEM, "centre"), reason=Reason.ORDER_PAYMENT, expires_at=expires,
        details={"order": order.id, "category": order.category},
    )


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


def _code_ok(conn: Connection, order_id: str, code: str) -> bool:
    row = _order_row(conn, order_id)
    return code_matches(code, row.code_salt, row.code_digest)


def _wrong_code(conn: Connection, order: Order, key: str, at: datetime) -> Outcome:
    tries = order.code_tries + 1
    conn.execute(update(sc_orders).where(sc_orders.c.id == order.id).values(code_tries=tries))
    after = Order.from_row(_order_row(conn, order.id))
    if after.code_locked:
        post_notices(conn, [Notice(f"code-locked:{order.id}", order.holder_id,
                                   MessageKind.RELEASE_CODE_LOCKED, {"order": order.id})], at=at)
    message = f"order {order.id}: wrong release code ({tries} of the tries allowed used)"
    return _record(conn, key, "code_wrong", Outcome(after, 0, "wrong_code", message), at)


def _record(conn: Connection, key: str, kind: str, outcome: Outcome, at: datetime) -> Outcome:
    conn.execute(insert(sc_order_events).values(
        request_id=key, order_id=outcome.order.id, kind=kind, amount=outcome.moved,
        outcome=json.dumps({"refusal": outcome.refusal, "message": outcome.message}),
        ts=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return outcome


def _repeat(conn: Connection, key: str, order: Order) -> Outcome | None:
    row = conn.execute(select(sc_order_events).where(sc_order_events.c.request_id == key)).first()
    if row is None:
        return None
    stored = json.loads(row.outcome)
    return Outcome(order, row.amount, stored["refusal"], stored["message"], repeated=True)


def _apply(conn: Connection, ledger: Ledger, chain: list[Transfer], at: datetime) -> None:
    plan = ledger.apply(conn, chain, at=at)
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


def _order_row(conn: Connection, order_id: str) -> Any:
    return conn.execute(select(sc_orders).where(sc_orders.c.id == order_id)).first()


def _same_order(order: Order, req: OrderRequest) -> Order:
    given = (req.holder_id, req.merchant_id, req.amount, req.condition)
    if (order.holder_id, order.merchant_id, order.amount, order.condition) != given:
        raise IdReusedError("order", req.order_id, "content")
    return order
