"""Issuing a prepaid purchase (F13, F14): split it into sub-cards under the program's cap,
open one ledger account per card under the holder's network account, insure each card, and
post it all as one linked chain (see :mod:`postings`) with the cards, policies and the first
live record, in one transaction. The same request id issues once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select

from host.backoffice.accounts import AccountSpec
from host.backoffice.assets import check_amount
from host.backoffice.clock import to_micros
from host.backoffice.database import Database, insert_rows
from host.backoffice.errors import ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, find_member
from host.backoffice.prepaid import accounts as acc
from host.backoffice.prepaid.errors import MerchantFrozenError
from host.backoffice.prepaid.postings import Chain
from host.backoffice.prepaid.premiums import premium
from host.backoffice.prepaid.program_store import find_program, program_number, take_sequences
from host.backoffice.prepaid.programs import Program, ProgramKind
from host.backoffice.prepaid.requests import answered, remember
from host.backoffice.prepaid.schema import (
    FORMAT_VERSION,
    pp_accounts,
    pp_cards,
    pp_claims,
    pp_movements,
    pp_policies,
)
from host.backoffice.prepaid.split import CardPlan, card_number, split_purchase
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["IssueRequest", "issue", "network_account"]

_CARD_COLUMNS = ("card_no", "account_id", "program_id", "merchant_id", "holder_id",
                 "purchase_id", "sequence", "principal_paid", "bonus_given", "principal_left",
                 "bonus_left", "uses_left", "expires_at", "priority", "status", "issued_at",
                 "format_version")
_POLICY_COLUMNS = ("id", "card_no", "insurer_id", "merchant_id", "holder_id", "sum_insured",
                   "premium", "rate_bp", "starts_at", "ends_at", "format_version")
_MOVEMENT_COLUMNS = ("card_no", "kind", "request_id", "principal_delta", "bonus_delta",
                     "principal_after", "bonus_after", "transfer_id", "ts", "format_version")


@dataclass(frozen=True, slots=True)
class IssueRequest:
    """A holder buys ``amount`` (fen) of prepaid value under a program."""

    request_id: str
    program_id: str
    holder_id: str
    amount: int

    def body(self) -> dict[str, Any]:
        return {"program": self.program_id, "holder": self.holder_id, "amount": self.amount}


def network_account(holder_id: str, program_id: str) -> str:
    """The network account linking a holder's sub-cards of one program."""
    return f"{holder_id}/{program_id}"


@dataclass
class _Batch:
    """Rows of every purchase of one transaction, written together."""

    transfers: list[Transfer] = field(default_factory=list)
    accounts: list[AccountSpec] = field(default_factory=list)
    cards: list[tuple[Any, ...]] = field(default_factory=list)
    policies: list[tuple[Any, ...]] = field(default_factory=list)
    movements: list[tuple[Any, ...]] = field(default_factory=list)
    answers: list[tuple[IssueRequest, dict[str, Any]]] = field(default_factory=list)


def issue(db: Database, ledger: Ledger, requests: Sequence[IssueRequest], *, at: datetime
          ) -> list[dict[str, Any]]:
    """Issue purchases in one transaction (all or nothing); one answer per request, in
    order. A request answered before gets its first answer (``status: exists``)."""
    for request in requests:
        check_amount(request.amount, what="prepaid amount")
    with db.write() as conn:
        batch, results = _Batch(), []
        for request in requests:
            first = answered(db, conn, "issue", request.request_id, request.body())
            if first is None:
                first = _plan(conn, request, batch, at)
            results.append(first)
        _write(conn, ledger, batch, at)
    return results


def _plan(conn: Connection, request: IssueRequest, batch: _Batch, at: datetime
          ) -> dict[str, Any]:
    program = find_program(conn, request.program_id)
    holder = find_member(conn, request.holder_id)
    if holder.kind is not MemberKind.CONSUMER:
        raise ValidationError(f"{request.holder_id} is a {holder.kind.value}, not a consumer")
    _refuse_if_frozen(conn, program.merchant_id)
    plans = _plans(program, request.amount)
    first_seq = take_sequences(conn, program.id, len(plans))
    number = program_number(conn, program.id)
    card_nos = [card_number(number, first_seq + i) for i in range(len(plans))]
    account = network_account(request.holder_id, program.id)
    _ensure_network_account(conn, account, request, program, at)
    cards = _cards(request, program, plans, card_nos, first_seq, at, batch)
    answer = {"purchase": request.request_id, "account": account, "program": program.id,
              "merchant": program.merchant_id, "holder": request.holder_id,
              "amount": request.amount, "cards": cards}
    batch.answers.append((request, answer))
    return {**answer, "status": "created"}


def _plans(program: Program, amount: int) -> list[CardPlan]:
    plans = split_purchase(amount, program.card_cap, program.bonus_bp)
    if program.kind is ProgramKind.COUNT:
        price = program.card_cap // program.uses
        if amount % price:
            raise ValidationError(f"a count card's amount is a multiple of one use's price "
                                  f"({price}), got {amount}")
    return plans


def _refuse_if_frozen(conn: Connection, merchant_id: str) -> None:
    query = select(pp_claims.c.id).where(pp_claims.c.merchant_id == merchant_id,
                                         pp_claims.c.status.in_(("open", "approved", "paid")))
    claim = conn.execute(query).first()
    if claim is not None:
        raise MerchantFrozenError(f"{merchant_id}'s cards are frozen by claim {claim.id}")


def _ensure_network_account(conn: Connection, account: str, request: IssueRequest,
                            program: Program, at: datetime) -> None:
    if conn.execute(select(pp_accounts.c.id).where(pp_accounts.c.id == account)).first():
        return
    conn.execute(insert(pp_accounts).values(
        id=account, holder_id=request.holder_id, program_id=program.id,
        merchant_id=program.merchant_id, created_at=to_micros(at),
        format_version=FORMAT_VERSION))


def _cards(request: IssueRequest, program: Program, plans: list[CardPlan],
           card_nos: list[str], first_seq: int, at: datetime, batch: _Batch
           ) -> list[dict[str, Any]]:
    """Rows, transfers and the answer's lines for the cards of one purchase."""
    ts, merchant = to_micros(at), program.merchant_id
    ends = to_micros(at + timedelta(days=program.term_days))
    expires = None if program.valid_days is None else to_micros(at + timedelta(
        days=program.valid_days))
    chain = Chain("issue", request.request_id, Source(SourceKind.MERCHANT, merchant))
    chain.move(acc.receipts(merchant), acc.custody(merchant), sum(p.principal for p in plans),
               Reason.DEPOSIT, {"purchase": request.request_id})
    chain.move(acc.cny(merchant), acc.custody(merchant), sum(p.bonus for p in plans),
               Reason.DEPOSIT, {"purchase": request.request_id, "part": "bonus"})
    lines = []
    for plan, card_no in zip(plans, card_nos, strict=True):
        uses = plan.value // (program.card_cap // program.uses) if program.uses else None
        tid = chain.card_in(merchant, card_no, plan.value, refund=False)
        cost = premium(plan.principal, program.premium_bp, program.term_days)
        chain.move(acc.cny(merchant), acc.cny(program.insurer_id), cost, Reason.PREMIUM,
                   {"card": card_no, "policy": f"POL{card_no}"})
        batch.cards.append((card_no, network_account(request.holder_id, program.id),
                            program.id, merchant, request.holder_id, request.request_id,
                            first_seq + plan.index - 1, plan.principal, plan.bonus,
                            plan.principal, plan.bonus, uses, expires, program.priority,
                            "active", ts, FORMAT_VERSION))
        batch.policies.append((f"POL{card_no}", card_no, program.insurer_id, merchant,
                               request.holder_id, plan.principal, cost, program.premium_bp,
                               ts, ends, FORMAT_VERSION))
        batch.movements.append((card_no, "issue", request.request_id, plan.principal,
                                plan.bonus, plan.principal, plan.bonus, tid, ts,
                                FORMAT_VERSION))
        lines.append({"card": card_no, "principal": plan.principal, "bonus": plan.bonus,
                      "value": plan.value, "uses": uses, "policy": f"POL{card_no}",
                      "premium": cost})
    batch.transfers.extend(chain.closed())
    batch.accounts.extend(acc.card_spec(no, merchant, program.card_cap) for no in card_nos)
    return lines


def _write(conn: Connection, ledger: Ledger, batch: _Batch, at: datetime) -> None:
    if not batch.answers:
        return
    ledger.create_accounts_in(conn, batch.accounts, at=at)
    ledger.apply(conn, batch.transfers, at=at, all_or_nothing=True, ids_are_new=True)
    insert_rows(conn, pp_cards, _CARD_COLUMNS, batch.cards)
    insert_rows(conn, pp_policies, _POLICY_COLUMNS, batch.policies)
    insert_rows(conn, pp_movements, _MOVEMENT_COLUMNS, batch.movements)
    for request, answer in batch.answers:
        remember(conn, "issue", request.request_id, request.body(), answer, at=at)
