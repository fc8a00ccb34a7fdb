"""Claims (F16): a trigger event at a merchant (closure, licence lost, failure to perform)
freezes its cards — each gets a pending hold of its whole balance, the ledger's own guard
against any later payment (TigerBeetle's closing transfer) — and computes each card's
payout from its live balance under its policy (:func:`premiums.payout`). The insurer
reviews; an approved claim pays every card once, one linked chain per holder: each card's
hold posted, the cards' custody money released (what the insurer pays goes to the insurer,
which takes over the holder's claim on it; the rest to the merchant), the payout to the
holder. A rejected claim voids the holds and the cards are usable again."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database, insert_rows, on_driver
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, find_member
from host.backoffice.prepaid import accounts as acc
from host.backoffice.prepaid.errors import ClaimStateError
from host.backoffice.prepaid.postings import Chain
from host.backoffice.prepaid.premiums import Payout, payout
from host.backoffice.prepaid.records import Movement, write_movements
from host.backoffice.prepaid.requests import answered, remember
from host.backoffice.prepaid.schema import (
    FORMAT_VERSION,
    pp_cards,
    pp_claim_lines,
    pp_claims,
)
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["Trigger", "claim_report", "open_claim", "pay_claim", "review_claim"]

_L = pp_claim_lines
_LINE_COLUMNS = ("card_no", "claim_id", "policy_id", "holder_id", "insurer_id", "principal",
                 "bonus", "payout", "explanation", "hold_id", "format_version")
_HOLDER, _INSURER, _PRINCIPAL, _BONUS, _HOLD = (
    _LINE_COLUMNS.index(name) for name in ("holder_id", "insurer_id", "principal", "bonus", "hold_id"))


# plain SQL on the driver, rows read by position: a claim reads 100,000 cards and lines at
# a time
#: a merchant's live cards with their policies, in issue order
_LIVE_CARDS = (
    "SELECT c.card_no, c.holder_id, c.principal_left, c.bonus_left, p.id, p.insurer_id, "
    "p.sum_insured, p.starts_at, p.ends_at FROM pp_cards c "
    "JOIN pp_policies p ON p.card_no = c.card_no "
    "WHERE c.merchant_id = ? AND c.status = 'active' ORDER BY c.program_id, c.sequence")
#: a claim's lines in card order, in :data:`_LINE_COLUMNS` order
_CLAIM_LINES = (f"SELECT {', '.join(_LINE_COLUMNS)} FROM pp_claim_lines WHERE claim_id = ? "
                "ORDER BY card_no")


class Trigger(StrEnum):
    CLOSURE = "closure"
    LICENCE_LOST = "licence_lost"
    FAILURE_TO_PERFORM = "failure_to_perform"


def open_claim(db: Database, ledger: Ledger, claim_id: str, merchant_id: str,
               trigger: Trigger, *, trigger_at: datetime, at: datetime) -> dict[str, Any]:
    """Freeze the merchant's cards and compute every card's payout (see the module)."""
    body = {"merchant": merchant_id, "trigger": trigger.value,
            "trigger_at": to_micros(trigger_at)}
    with db.write() as conn:
        if answered(db, conn, "claim", claim_id, body) is not None:
            return {**_report(conn, claim_id), "status": "exists"}
        if find_member(conn, merchant_id).kind is not MemberKind.MERCHANT:
            raise ValidationError(f"{merchant_id} is not a merchant")
        _refuse_second_claim(conn, merchant_id)
        chain = Chain("freeze", claim_id, Source(SourceKind.SYSTEM, claim_id))
        lines = _lines(on_driver(conn, _LIVE_CARDS, (merchant_id,), named=False).all(), claim_id, merchant_id,
                       chain, to_micros(trigger_at))
        ledger.apply(conn, chain.closed(), at=at, all_or_nothing=True, ids_are_new=True,
                     answers=False)
        conn.execute(insert(pp_claims).values(
            id=claim_id, merchant_id=merchant_id, trigger=trigger.value,
            trigger_at=to_micros(trigger_at), status="open", note="", opened_at=to_micros(at),
            format_version=FORMAT_VERSION))
        insert_rows(conn, _L, _LINE_COLUMNS, lines)
        _set_claim_status(conn, claim_id, "frozen")
        remember(conn, "claim", claim_id, body, {"claim": claim_id}, at=at)
        return {**_report(conn, claim_id, rows=sorted(lines)), "status": "created"}


def _refuse_second_claim(conn: Connection, merchant_id: str) -> None:
    query = select(pp_claims.c.id).where(pp_claims.c.merchant_id == merchant_id,
                                         pp_claims.c.status.in_(("open", "approved", "paid")))
    if (row := conn.execute(query).first()) is not None:
        raise ClaimStateError(f"{merchant_id} already has claim {row.id}")


def _lines(cards: Iterable[Any], claim_id: str, merchant_id: str, chain: Chain, trigger: int
           ) -> list[tuple[Any, ...]]:
    """Each card's line, its payout explained, and its freezing hold added to ``chain``."""
    figures: dict[tuple[int, ...], Payout] = {}  # most cards of a program look alike
    value = acc.value(merchant_id)
    lines = []
    for card_no, holder, principal, bonus, policy, insurer, insured, starts, ends in cards:
        key = (principal, bonus, insured, starts, ends)
        figure = figures.get(key)
        if figure is None:
            figure = figures[key] = payout(principal=principal, bonus=bonus,
                                           sum_insured=insured, starts=starts, ends=ends,
                                           trigger=trigger)
        hold = None
        if principal + bonus:
            hold = chain.hold(acc.card_account(card_no), value, principal + bonus,
                              {"card": card_no, "claim": claim_id})
        lines.append((card_no, claim_id, policy, holder, insurer, principal, bonus,
                      figure.amount, figure.explanation, hold, FORMAT_VERSION))
    return lines


def review_claim(db: Database, ledger: Ledger, claim_id: str, *, approve: bool, note: str,
                 at: datetime) -> dict[str, Any]:
    """The insurer's decision. Rejecting voids the holds and unfreezes the cards."""
    with db.write() as conn:
        claim = _claim(conn, claim_id, lock_db=db)
        wanted = "approved" if approve else "rejected"
        if claim.status == wanted or (approve and claim.status == "paid"):  # a retry
            return {**_report(conn, claim_id, lines=False), "status": "exists"}
        if claim.status != "open":
            raise ClaimStateError(f"claim {claim_id} is {claim.status}, not open")
        if not approve:
            _unfreeze(conn, ledger, claim_id, at)
        conn.execute(pp_claims.update().where(pp_claims.c.id == claim_id).values(
            status=wanted, note=note, reviewed_at=to_micros(at)))
        return {**_report(conn, claim_id, lines=False), "status": "created"}


def _unfreeze(conn: Connection, ledger: Ledger, claim_id: str, at: datetime) -> None:
    rows = conn.execute(select(_L).where(_L.c.claim_id == claim_id)).all()
    chain = Chain("unfreeze", claim_id, Source(SourceKind.SYSTEM, claim_id))
    for row in rows:
        if row.hold_id is not None:
            chain.transfers.append(Transfer.void(chain.next_id(), row.hold_id, chain.source,
                                                 linked=True,
                                                 correlation_id=chain.correlation_id))
    ledger.apply(conn, chain.closed(), at=at, all_or_nothing=True)
    _set_claim_status(conn, claim_id, "active")
    conn.execute(_L.delete().where(_L.c.claim_id == claim_id))


def pay_claim(db: Database, ledger: Ledger, claim_id: str, *, at: datetime) -> dict[str, Any]:
    """Pay an approved claim, every card once (paying it again answers the payment)."""
    with db.write() as conn:
        claim = _claim(conn, claim_id, lock_db=db)
        if claim.status == "paid":
            return {**_report(conn, claim_id), "status": "exists"}
        if claim.status != "approved":
            raise ClaimStateError(f"claim {claim_id} is {claim.status}: the insurer approves "
                                  "it before it is paid")
        rows = on_driver(conn, _CLAIM_LINES, (claim_id,), named=False).all()
        chains, movements = _payout_chains(claim_id, claim.merchant_id, rows)
        ledger.apply(conn, chains, at=at, all_or_nothing=True, ids_are_new=True,
                     answers=False)
        # frozen since the claim opened: each card still holds what its line says, and
        # the claim takes it all
        write_movements(conn, claim_id, movements,
                        {row[0]: (row[_PRINCIPAL], row[_BONUS]) for row in rows}, at=at)
        _set_claim_status(conn, claim_id, "claimed", emptied=True)
        conn.execute(pp_claims.update().where(pp_claims.c.id == claim_id)
                     .values(status="paid", paid_at=to_micros(at)))
        return {**_report(conn, claim_id, rows=rows), "status": "created"}


def _payout_chains(claim_id: str, merchant: str, rows: Sequence[tuple[Any, ...]]
                   ) -> tuple[list[Transfer], list[Movement]]:
    """One linked chain per holder (and insurer): each card's hold posted, the custody money
    released, the payout to the holder; a live record per card. ``rows`` are
    :data:`_CLAIM_LINES` rows."""
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        if row[_HOLD] is not None:  # a card with a balance, frozen by a hold
            groups[(row[_HOLDER], row[_INSURER])].append(row)
    transfers: list[Transfer] = []
    movements: list[Movement] = []
    for number, ((holder, insurer), cards) in enumerate(sorted(groups.items()), start=1):
        chain = Chain("claim", f"{claim_id}/{number}", Source(SourceKind.SYSTEM, claim_id))
        paid = rest = 0
        for card_no, _, _, _, _, principal, bonus, payout_, _, hold_id, _ in cards:
            tid = chain.post(hold_id)
            movements.append((card_no, "claim", -principal, -bonus, tid))
            paid += payout_
            rest += principal + bonus - payout_
        details: dict[str, int | str] = {"claim": claim_id, "cards": len(cards)}
        chain.move(acc.custody(merchant), acc.cny(insurer), paid, Reason.SETTLEMENT_PAYOUT,
                   details)
        chain.move(acc.custody(merchant), acc.cny(merchant), rest, Reason.SETTLEMENT_PAYOUT,
                   details)
        chain.move(acc.cny(insurer), acc.cny(holder), paid, Reason.SETTLEMENT_PAYOUT, details)
        transfers.extend(chain.closed())
    return transfers, movements


def _claim(conn: Connection, claim_id: str, *, lock_db: Database) -> Any:
    lock_db.lock_key(conn, f"pp/claim/{claim_id}")
    row = conn.execute(select(pp_claims).where(pp_claims.c.id == claim_id)).first()
    if row is None:
        raise NotFoundError(f"no claim {claim_id!r}")
    return row


def claim_report(db: Database, claim_id: str) -> dict[str, Any]:
    with db.read() as conn:
        _claim_exists(conn, claim_id)
        return _report(conn, claim_id)


def _claim_exists(conn: Connection, claim_id: str) -> None:
    if conn.execute(select(pp_claims.c.id).where(pp_claims.c.id == claim_id)).first() is None:
        raise NotFoundError(f"no claim {claim_id!r}")


def _set_claim_status(conn: Connection, claim_id: str, status: str, *,
                      emptied: bool = False) -> None:
    """The status of every card of a claim, in one statement (``emptied``: and its live
    principal and bonus brought to zero, as the claim's movements leave them)."""
    cards = select(_L.c.card_no).where(_L.c.claim_id == claim_id).scalar_subquery()
    values: dict[str, Any] = {"status": status}
    if emptied:
        values.update(principal_left=0, bonus_left=0)
    conn.execute(pp_cards.update().where(pp_cards.c.card_no.in_(cards)).values(**values))


def _report(conn: Connection, claim_id: str, *, lines: bool = True,
            rows: Sequence[tuple[Any, ...]] | None = None) -> dict[str, Any]:
    """The claim and every card's line, each number explained (``lines=False``: the totals
    only, as the insurer's review answers). ``rows``: the claim's :data:`_CLAIM_LINES` rows
    when the caller holds them already (it has just written or read them)."""
    claim = conn.execute(select(pp_claims).where(pp_claims.c.id == claim_id)).one()
    totals = conn.execute(select(func.count(), func.sum(_L.c.principal + _L.c.bonus),
                                 func.sum(_L.c.payout)).where(_L.c.claim_id == claim_id)).one()
    head = {"claim": claim_id, "merchant": claim.merchant_id, "trigger": claim.trigger,
            "trigger_at": from_micros(claim.trigger_at).isoformat(), "state": claim.status,
            "note": claim.note, "cards": int(totals[0]), "live_balance": int(totals[1] or 0),
            "payout": int(totals[2] or 0)}
    if not lines:
        return {**head, "lines": []}
    if rows is None:
        rows = on_driver(conn, _CLAIM_LINES, (claim_id,), named=False).all()
    return {**head, "lines": [
        {"card": card, "holder": holder, "policy": policy, "insurer": insurer,
         "principal": principal, "bonus": bonus, "live_balance": principal + bonus,
         "payout": paid, "explanation": explanation}
        for card, _, policy, holder, insurer, principal, bonus, paid, explanation, _, _ in rows]}
