"""Issuing prepaid purchases (F13, F14): each is split into sub-cards under its program's
cap, one ledger account per card under the holder's network account, each card insured, and
everything posted as one linked chain per purchase (see :mod:`postings`) with the cards,
policies and first live records, in one transaction. A sales batch of many purchases is one
transaction too, all or nothing, and reads what it needs in a few statements whatever its
size. The same request id issues once: the programs' rows are locked first, so two copies
of one request are answered one after the other."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from host.backoffice.accounts import AccountSpec
from host.backoffice.assets import check_amount
from host.backoffice.clock import to_micros
from host.backoffice.database import Database, chunked, insert_rows
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind
from host.backoffice.prepaid import accounts as acc
from host.backoffice.prepaid.errors import MerchantFrozenError
from host.backoffice.prepaid.postings import Chain
from host.backoffice.prepaid.premiums import premium
from host.backoffice.prepaid.program_store import program_from_row, take_sequences
from host.backoffice.prepaid.programs import HolderKind, Program, ProgramKind
from host.backoffice.prepaid.rate_store import list_rates
from host.backoffice.prepaid.rates import RateTable
from host.backoffice.prepaid.requests import answered_in, remember_many
from host.backoffice.prepaid.schema import (
    FORMAT_VERSION,
    pp_accounts,
    pp_cards,
    pp_claims,
    pp_movements,
    pp_policies,
    pp_programs,
)
from host.backoffice.prepaid.split import CardPlan, card_number, split_purchase
from host.backoffice.schema import bo_members
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["IssueRequest", "issue", "network_account"]

_CARD_COLUMNS = ("card_no", "account_id", "program_id", "merchant_id", "holder_id",
                 "purchase_id", "sequence", "principal_paid", "bonus_given", "principal_left",
                 "bonus_left", "use_price", "expires_at", "priority", "status", "issued_at",
                 "holder_kind", "format_version")
_POLICY_COLUMNS = ("id", "card_no", "insurer_id", "merchant_id", "holder_id", "sum_insured",
                   "premium", "rate_bp", "starts_at", "ends_at", "rate_row", "format_version")
_MOVEMENT_COLUMNS = ("card_no", "kind", "request_id", "principal_delta", "bonus_delta",
                     "principal_after", "bonus_after", "transfer_id", "ts", "format_version")
_ACCOUNT_COLUMNS = ("id", "holder_id", "program_id", "merchant_id", "created_at",
                    "format_version")


@dataclass(frozen=True, slots=True)
class IssueRequest:
    """A holder buys ``amount`` (fen) of prepaid value under a program, as a registered
    holder (named on file) or an anonymous one: the cards split under that kind's cap."""

    request_id: str
    program_id: str
    holder_id: str
    amount: int
    holder_kind: HolderKind = HolderKind.REGISTERED

    def __post_init__(self) -> None:
        if not isinstance(self.holder_kind, HolderKind):
            raise ValidationError(f"purchase {self.request_id}: holder kind must be one of "
                                  f"{', '.join(k.value for k in HolderKind)}, got "
                                  f"{self.holder_kind!r}")

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"program": self.program_id, "holder": self.holder_id,
                                "amount": self.amount}
        if self.holder_kind is not HolderKind.REGISTERED:  # a registered request's digest
            body["holder_kind"] = self.holder_kind.value  # is the one it always had
        return body


def network_account(holder_id: str, program_id: str) -> str:
    """The network account linking a holder's sub-cards of one program."""
    return f"{holder_id}/{program_id}"


@dataclass
class _Batch:
    """What one transaction writes, and the program numbers and sequences it draws on."""

    at: datetime
    numbers: dict[str, int]
    next_seq: dict[str, int]
    rates: RateTable
    transfers: list[Transfer] = field(default_factory=list)
    accounts: list[AccountSpec] = field(default_factory=list)
    cards: list[tuple[Any, ...]] = field(default_factory=list)
    policies: list[tuple[Any, ...]] = field(default_factory=list)
    movements: list[tuple[Any, ...]] = field(default_factory=list)
    answers: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    network: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def issue(db: Database, ledger: Ledger, requests: Sequence[IssueRequest], *, at: datetime
          ) -> list[dict[str, Any]]:
    """Issue purchases in one transaction (all or nothing); one answer per request, in
    order. A request answered before gets its first answer (``status: exists``)."""
    for request in requests:
        check_amount(request.amount, what="prepaid amount")
    if len({r.request_id for r in requests}) != len(requests):
        raise ValidationError("a sales batch names a request id twice")
    with db.write() as conn:
        programs = _locked_programs(db, conn, {r.program_id for r in requests})
        done = answered_in(conn, "issue", {r.request_id: r.body() for r in requests})
        new = [r for r in requests if r.request_id not in done]
        plans = {r.request_id: _plans(programs[r.program_id], r) for r in new}
        _check_holders(conn, {r.holder_id for r in new})
        _refuse_frozen(conn, {programs[r.program_id].merchant_id for r in new})
        batch = _Batch(at, {}, {}, RateTable(list_rates(
            conn, {programs[r.program_id].insurer_id for r in new})))
        _reserve_sequences(conn, batch, new, plans)
        for request in new:
            done[request.request_id] = _plan(request, programs[request.program_id],
                                             plans[request.request_id], batch)
        _write(conn, ledger, batch)
    return [done[r.request_id] for r in requests]


def _locked_programs(db: Database, conn: Connection, ids: set[str]) -> dict[str, Program]:
    rows = db.lock_rows(conn, pp_programs, sorted(ids))
    programs = {row.id: program_from_row(row) for row in rows}
    missing = sorted(ids - set(programs))
    if missing:
        raise NotFoundError(f"no prepaid program {missing[0]!r}")
    return programs


def _plans(program: Program, request: IssueRequest) -> list[CardPlan]:
    amount = request.amount
    plans = split_purchase(amount, program.cap(request.holder_kind), program.bonus_bp)
    price = program.use_price
    if program.kind is ProgramKind.COUNT and price and amount % price:
        raise ValidationError(f"a count card's amount is a multiple of one use's price "
                              f"({price}), got {amount}")
    return plans


def _check_holders(conn: Connection, holders: set[str]) -> None:
    kinds: dict[str, str] = {}
    for part in chunked(sorted(holders)):
        query = select(bo_members.c.id, bo_members.c.kind).where(bo_members.c.id.in_(part))
        kinds.update({row.id: row.kind for row in conn.execute(query)})
    for holder in sorted(holders):
        if holder not in kinds:
            raise NotFoundError(f"no member {holder!r}")
        if kinds[holder] != MemberKind.CONSUMER.value:
            raise ValidationError(f"{holder} is a {kinds[holder]}, not a consumer")


def _refuse_frozen(conn: Connection, merchants: set[str]) -> None:
    query = select(pp_claims.c.id, pp_claims.c.merchant_id).where(
        pp_claims.c.merchant_id.in_(sorted(merchants)),
        pp_claims.c.status.in_(("open", "approved", "paid")))
    claim = conn.execute(query).first()
    if claim is not None:
        raise MerchantFrozenError(f"{claim.merchant_id}'s cards are frozen by claim {claim.id}")


def _reserve_sequences(conn: Connection, batch: _Batch, new: list[IssueRequest],
                       plans: dict[str, list[CardPlan]]) -> None:
    needed = Counter[str]()
    for request in new:
        needed[request.program_id] += len(plans[request.request_id])
    for program_id, count in sorted(needed.items()):
        batch.numbers[program_id], batch.next_seq[program_id] = take_sequences(
            conn, program_id, count)


def _plan(request: IssueRequest, program: Program, plans: list[CardPlan], batch: _Batch
          ) -> dict[str, Any]:
    first = batch.next_seq[program.id]
    batch.next_seq[program.id] += len(plans)
    card_nos = [card_number(batch.numbers[program.id], first + i) for i in range(len(plans))]
    account = network_account(request.holder_id, program.id)
    chain = Chain("issue", request.request_id, Source(SourceKind.MERCHANT, program.merchant_id))
    merchant = program.merchant_id
    chain.move(acc.receipts(merchant), acc.custody(merchant), sum(p.principal for p in plans),
               Reason.DEPOSIT, {"purchase": request.request_id})
    chain.move(acc.cny(merchant), acc.custody(merchant), sum(p.bonus for p in plans),
               Reason.DEPOSIT, {"purchase": request.request_id, "part": "bonus"})
    lines = [_card(request, program, plan, card_no, first + plan.index - 1, chain, batch)
             for plan, card_no in zip(plans, card_nos, strict=True)]
    batch.transfers.extend(chain.closed())
    cap = program.cap(request.holder_kind)
    batch.accounts.extend(acc.card_spec(no, merchant, cap) for no in card_nos)
    answer = {"purchase": request.request_id, "account": account, "program": program.id,
              "merchant": merchant, "holder": request.holder_id, "amount": request.amount,
              "holder_kind": request.holder_kind.value, "card_cap": cap, "cards": lines}
    batch.answers.append((request.request_id, request.body(), answer))
    batch.network[account] = (request.holder_id, program.id, merchant)
    return {**answer, "status": "created"}


def _card(request: IssueRequest, program: Program, plan: CardPlan, card_no: str,
          sequence: int, chain: Chain, batch: _Batch) -> dict[str, Any]:
    """One card's rows and transfers; its line of the answer."""
    ts, merchant = to_micros(batch.at), program.merchant_id
    ends = to_micros(batch.at + timedelta(days=program.term_days))
    expires = None if program.valid_days is None else to_micros(
        batch.at + timedelta(days=program.valid_days))
    uses = plan.value // program.use_price if program.use_price else None
    tid = chain.card_in(merchant, card_no, plan.value, refund=False)
    rate, rate_row = batch.rates.price(program, plan.principal, request.holder_kind)
    cost = premium(plan.principal, rate, program.term_days)
    policy = f"POL{card_no}"
    chain.move(acc.cny(merchant), acc.cny(program.insurer_id), cost, Reason.PREMIUM,
               {"card": card_no, "policy": policy})
    batch.cards.append((card_no, network_account(request.holder_id, program.id), program.id,
                        merchant, request.holder_id, request.request_id, sequence,
                        plan.principal, plan.bonus, plan.principal, plan.bonus, program.use_price, expires,
                        program.priority, "active", ts, request.holder_kind.value,
                        FORMAT_VERSION))
    batch.policies.append((policy, card_no, program.insurer_id, merchant, request.holder_id,
                           plan.principal, cost, rate, ts, ends, rate_row, FORMAT_VERSION))
    batch.movements.append((card_no, "issue", request.request_id, plan.principal, plan.bonus,
                            plan.principal, plan.bonus, tid, ts, FORMAT_VERSION))
    return {"card": card_no, "principal": plan.principal, "bonus": plan.bonus,
            "value": plan.value, "uses": uses, "policy": policy, "premium": cost,
            "rate_bp": rate, "rate_row": rate_row}


def _write(conn: Connection, ledger: Ledger, batch: _Batch) -> None:
    if not batch.answers:
        return
    _open_network_accounts(conn, batch)
    ledger.create_accounts_in(conn, batch.accounts, at=batch.at)
    ledger.apply(conn, batch.transfers, at=batch.at, all_or_nothing=True, ids_are_new=True)
    insert_rows(conn, pp_cards, _CARD_COLUMNS, batch.cards)
    insert_rows(conn, pp_policies, _POLICY_COLUMNS, batch.policies)
    insert_rows(conn, pp_movements, _MOVEMENT_COLUMNS, batch.movements)
    remember_many(conn, "issue", batch.answers, at=batch.at)


def _open_network_accounts(conn: Connection, batch: _Batch) -> None:
    known: set[str] = set()
    for part in chunked(sorted(batch.network)):
        known.update(conn.execute(select(pp_accounts.c.id).where(pp_accounts.c.id.in_(part)))
                     .scalars())
    ts = to_micros(batch.at)
    insert_rows(conn, pp_accounts, _ACCOUNT_COLUMNS, [
        (aid, *who, ts, FORMAT_VERSION)
        for aid, who in sorted(batch.network.items()) if aid not in known])
