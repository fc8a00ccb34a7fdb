"""Clearing a terminal's batch (F10, F19): verify every card record, then post points to
consumers and credit points to the merchant, all in one transaction, or nothing.

Theory of operation:

1. Outside any write lock: answer ``exists`` if the batch id was cleared before with the same
   content (``IdReusedError`` if with other content); look up the terminal's merchant, the
   card holders, the agreements in force and the card transactions already cleared; check
   every record (:mod:`record_checks`), verifying TACs and cryptograms. Any bad record rejects
   the batch whole, with a reason per record (:class:`BatchRejectedError`).
2. One serialised write transaction: refuse a business day already settled, insert the batch
   row (its primary key makes a concurrent duplicate wait, then fail and answer ``exists``),
   post the transfers all-or-nothing in bulk (:func:`database.insert_rows`), insert the
   verified card records and the notices. A balance bound that fails (points spent before
   they were cleared) rolls everything back and rejects the batch with that record's reason.

A batch killed half-way leaves nothing: the transaction never committed. Re-sending it posts
it once; re-sending it again answers ``exists`` with the balances the posting produced.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, and_, insert, or_, select
from sqlalchemy.exc import IntegrityError

from host.backoffice.agreements import AgreementBook
from host.backoffice.assets import Asset
from host.backoffice.authorisations import AUTH_COLUMNS as _AUTH_COLUMNS
from host.backoffice.authorisations import authorisation_from_row
from host.backoffice.clock import to_micros
from host.backoffice.database import Database, chunked
from host.backoffice.errors import (
    BatchRejectedError,
    DayClosedError,
    IdReusedError,
    NotFoundError,
    RecordRejection,
    TransferRejectedError,
)
from host.backoffice.ledger import Ledger
from host.backoffice.members import (
    ALLIANCE_ID,
    ISSUING_ROLE,
    PURSE_ROLE,
    MemberKind,
    Role,
    account_id,
)
from host.backoffice.outbox import MessageKind, Notice, post_notices
from host.backoffice.rates import Ratio, Rounding
from host.backoffice.record_checks import CardHolder, CheckedBatch, IssuerRecords, check_batch
from host.backoffice.redemptions import redeemed_debits
from host.backoffice.schema import (
    FORMAT_VERSION,
    bo_authorisations,
    bo_batch_rejections,
    bo_batches,
    bo_card_records,
    bo_members,
    bo_settled_days,
    bo_terminals,
)
from host.backoffice.settings import AllianceSettings, load_settings
from host.backoffice.transfers import Balance, Reason, Source, SourceKind, Transfer
from host.backoffice.verifier import CardVerifier
from host.records.batch import PaymentRecord, PurseRecord, TerminalBatch

__all__ = ["Clearing", "ClearingResult"]


@dataclass(frozen=True, slots=True)
class ClearingResult:
    """What a cleared batch did, and the balances of every account it touched."""

    batch_id: str
    status: str  # "created" or "exists"
    merchant_id: str
    terminal_id: str
    business_day: date
    records: int
    earned: Mapping[str, int]  # points awarded per purse
    redeemed: int  # consumption points spent at the merchant
    merchant_credit_points: int
    payments_fen: int
    balances: Mapping[str, Balance]

    def summary(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id, "merchant_id": self.merchant_id,
            "terminal_id": self.terminal_id, "business_day": self.business_day.isoformat(),
            "records": self.records, "earned": dict(self.earned), "redeemed": self.redeemed,
            "merchant_credit_points": self.merchant_credit_points,
            "payments_fen": self.payments_fen,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(), "status": self.status,
            "balances": {k: v.as_dict() for k, v in sorted(self.balances.items())},
        }


class Clearing:
    """Clears terminal batches against one database; keeps look-up caches of the facts that
    never change once written (which merchant a terminal belongs to, whose card a card is)."""

    def __init__(self, db: Database, ledger: Ledger, verifier: CardVerifier) -> None:
        self.db = db
        self.ledger = ledger
        self.verifier = verifier
        self._holders: dict[str, CardHolder] = {}
        self._terminals: dict[str, str] = {}
        self._two_way: dict[str, Ratio] = {}
        self._settings: AllianceSettings | None = None
        self._names = _Names()

    def clear(self, batch: TerminalBatch, *, at: datetime) -> ClearingResult:
        """Clear ``batch`` at time ``at``; see the module docstring."""
        try:
            return self._clear_once(batch, at, thorough=False)
        except _ConcurrentDuplicate:
            # The batch id or a card transaction is already stored (another writer got
            # there first, or a card transaction was presented before): the thorough pass
            # answers exists, or rejects the duplicate records by name.
            return self._clear_once(batch, at, thorough=True)

    # -- phases ----------------------------------------------------------------------------

    def _clear_once(self, batch: TerminalBatch, at: datetime, *, thorough: bool) -> ClearingResult:
        found = self._look_up_and_check(batch, at, thorough=thorough)
        if isinstance(found, ClearingResult):
            return found  # cleared before: the same answer
        settings, merchant_id, checked, two_way = found
        day = settings.business_day(at)
        if checked.rejections:
            self._reject(batch, checked.rejections, at)
        # The postings keep what they need of the check; the rest (every earn's proof, the
        # issuer's records) goes before the batch is posted, so the collector's passes while
        # it is posted do not rescan it.
        plan = _Postings(batch, merchant_id, checked, two_way, self._names.for_batch())
        del found, checked
        try:
            with self.db.write() as conn:
                return self._post(conn, batch, plan, merchant_id, day, at)
        except TransferRejectedError as exc:
            rejections = [
                RecordRejection(plan.record_of.get(tid, tid), _REASONS.get(code, code))
                for tid, code in exc.codes.items()
            ]
            self._reject(batch, rejections, at)
        except IntegrityError as exc:
            if thorough:
                raise
            raise _ConcurrentDuplicate from exc

    def _look_up_and_check(
        self, batch: TerminalBatch, at: datetime, *, thorough: bool
    ) -> ClearingResult | tuple[AllianceSettings, str, CheckedBatch, Ratio]:
        """The answer given before for this batch, or what posting it needs: the settings,
        the terminal's merchant, every record checked and the two-way rule."""
        with self.db.read() as conn:
            previous = self._previous(conn, batch)
            if previous is not None:
                return previous
            settings = self._load_settings(conn)
            merchant_id = self._merchant_of(conn, batch.terminal_id)
            holders = self._card_holders(conn, {r.card_id for r in batch.records})
            banks = self._banks(conn, batch)
            agreements = AgreementBook.load(conn, {merchant_id, *banks})
            # Card transactions cleared before are caught by a unique index at insert time;
            # only after such a collision are they looked up one by one to name them.
            seen = self._seen_txns(conn, batch) if thorough else set()
            issuer = self._issuer_records(conn, batch, thorough=thorough)
            two_way = self._two_way_rule(conn, merchant_id)
        checked = check_batch(
            batch, merchant_id=merchant_id, holders=holders, banks=banks, agreements=agreements,
            seen_txns=seen, verifier=self.verifier, at_micros=to_micros(at), issuer=issuer,
        )
        return settings, merchant_id, checked, two_way

    def _post(
        self,
        conn: Connection,
        batch: TerminalBatch,
        plan: _Postings,
        merchant_id: str,
        day: date,
        at: datetime,
    ) -> ClearingResult:
        self.db.lock_key(conn, f"business-day/{day.isoformat()}", shared=True)
        closed = conn.execute(
            select(bo_settled_days.c.business_day)
            .where(bo_settled_days.c.business_day == day.isoformat())
        ).first()
        if closed is not None:
            raise DayClosedError(f"business day {day} is already settled; clear into a later day")
        result = plan.result(batch, merchant_id, day)
        conn.execute(insert(bo_batches).values(
            id=batch.batch_id, terminal_id=batch.terminal_id, merchant_id=merchant_id,
            digest=batch.digest, record_count=len(batch.records), business_day=day.isoformat(),
            summary=json.dumps(result.summary(), sort_keys=True), ts=to_micros(at),
            format_version=FORMAT_VERSION,
        ))
        posted = self.ledger.apply(conn, plan.transfers, at=at, all_or_nothing=True,
                                   ids_are_new=True, answers=False)
        self.db.insert_rows(conn, bo_card_records, _CARD_COLUMNS, plan.card_rows(batch))
        post_notices(conn, plan.notices(batch, merchant_id), at=at)
        return _with(result, status="created", balances=posted.balances)

    def _reject(
        self, batch: TerminalBatch, rejections: list[RecordRejection], at: datetime
    ) -> NoReturn:
        """Log the refusal (an audit trail; it does not block a corrected re-send) and raise."""
        reasons = [{"record": r.record_id, "reason": r.reason} for r in rejections]
        with self.db.write() as conn:
            conn.execute(insert(bo_batch_rejections).values(
                batch_id=batch.batch_id, terminal_id=batch.terminal_id,
                reasons=json.dumps(reasons), ts=to_micros(at),
                format_version=FORMAT_VERSION,
            ))
        raise BatchRejectedError(batch.batch_id, rejections)

    # -- look-ups --------------------------------------------------------------------------

    def _previous(self, conn: Connection, batch: TerminalBatch) -> ClearingResult | None:
        row = conn.execute(select(bo_batches).where(bo_batches.c.id == batch.batch_id)).first()
        if row is None:
            return None
        if bytes(row.digest) != batch.digest:
            raise IdReusedError("batch", batch.batch_id, "content")
        summary = json.loads(row.summary)
        balances = self.ledger.balances_after(conn, batch.batch_id)
        return ClearingResult(
            summary["batch_id"], "exists", summary["merchant_id"], summary["terminal_id"],
            date.fromisoformat(summary["business_day"]), summary["records"], summary["earned"],
            summary["redeemed"], summary["merchant_credit_points"], summary["payments_fen"],
            balances,
        )

    def _load_settings(self, conn: Connection) -> AllianceSettings:
        if self._settings is None:
            self._settings = load_settings(conn)
        return self._settings

    def _merchant_of(self, conn: Connection, terminal_id: str) -> str:
        if terminal_id not in self._terminals:
            row = conn.execute(
                select(bo_terminals.c.merchant_id).where(bo_terminals.c.terminal_id == terminal_id)
            ).first()
            if row is None:
                raise NotFoundError(f"terminal {terminal_id} is not registered to any merchant")
            self._terminals[terminal_id] = row.merchant_id
        return self._terminals[terminal_id]

    def _card_holders(self, conn: Connection, card_ids: Iterable[str]) -> dict[str, CardHolder]:
        missing = sorted(c for c in card_ids if c not in self._holders)
        consumer = MemberKind.CONSUMER.value
        columns = ("id", "card_id", "consumer_group", "kind")
        for member_id, card_id, group, kind in self.db.rows_where_in(
            conn, bo_members, columns, "card_id", missing
        ):
            if kind == consumer:
                self._holders[card_id] = CardHolder(member_id, group or "")
        return self._holders

    def _banks(self, conn: Connection, batch: TerminalBatch) -> frozenset[str]:
        named = {getattr(r, "issuer_id", None) for r in batch.records} - {None}
        if not named:
            return frozenset()
        query = select(bo_members.c.id).where(
            bo_members.c.id.in_(sorted(named)), bo_members.c.kind == MemberKind.BANK.value  # type: ignore[arg-type]
        )
        return frozenset(conn.execute(query).scalars())

    def _seen_txns(self, conn: Connection, batch: TerminalBatch) -> set[tuple[str, str]]:
        """(card id, txn key) pairs of this batch already cleared, probing the unique index
        pair by pair (an OR of equalities, which both databases answer from the index)."""
        c = bo_card_records.c
        keys = sorted({(r.card_id, r.txn_key) for r in batch.records})
        seen: set[tuple[str, str]] = set()
        for part in chunked(keys, 100):
            condition = or_(*(and_(c.card_id == card, c.txn_key == key) for card, key in part))
            query = select(c.card_id, c.txn_key).where(condition)
            seen.update((r.card_id, r.txn_key) for r in conn.execute(query))
        return seen

    def _issuer_records(self, conn: Connection, batch: TerminalBatch, *,
                        thorough: bool) -> IssuerRecords:
        """The issuer's answers to the batch's ARQCs and stripe approvals, the card debits
        that already paid for a redemption; on the thorough pass also the sales already
        rewarded (else the unique index catches them)."""
        arqcs = sorted({r.arqc for r in batch.records if isinstance(r, PaymentRecord)})
        refs = sorted({r.authorisation_ref for r in batch.records
                       if isinstance(r, PurseRecord) and r.authorisation_ref})
        found = [authorisation_from_row(row) for key, values in (("arqc", arqcs), ("id", refs))
                 for row in self.db.rows_where_in(conn, bo_authorisations, _AUTH_COLUMNS, key,
                                                  values)]
        rewarded: frozenset[tuple[str, str]] = frozenset()
        if thorough:
            cards = sorted({r.card_id for r in batch.records if r.kind == "load"})
            rewarded = frozenset(
                (row.card_id, row.sale_key) for row in self.db.rows_where_in(
                    conn, bo_card_records, ("card_id", "sale_key"), "card_id", cards)
                if row.sale_key is not None)
        purchases = [r for r in batch.records
                     if isinstance(r, PurseRecord) and r.kind == "purchase"]
        return IssuerRecords({a.arqc: a for a in found if a.arqc is not None},
                             {a.id: a for a in found if a.arqc is None}, rewarded,
                             redeemed_debits(self.db, conn, purchases))

    def _two_way_rule(self, conn: Connection, merchant_id: str) -> Ratio:
        if merchant_id not in self._two_way:
            row = conn.execute(
                select(bo_members.c.two_way_num, bo_members.c.two_way_den)
                .where(bo_members.c.id == merchant_id)
            ).one()
            self._two_way[merchant_id] = Ratio(row.two_way_num, row.two_way_den)
        return self._two_way[merchant_id]


#: Ledger codes said the way a terminal operator reads them.
_REASONS = {"exceeds_lower_bound": "insufficient_points", "exceeds_upper_bound": "above_cap"}

_CARD_COLUMNS = (
    "batch_id", "record_id", "record_type", "card_id", "purse", "amount", "txn_key",
    "terminal_id", "card_time", "card_seq", "balance_after", "terminal_seq", "mac_data",
    "mac_extra", "mac", "final_mac", "final_mac_data", "final_mac_extra", "mac_verified",
    "claimed", "sale_key", "transfer_id", "format_version",
)


class _ConcurrentDuplicate(Exception):
    """Another writer inserted the same batch (or card transaction) first."""


_EARNED_KEY = {purse: f"earned.{purse.value}" for purse in PURSE_ROLE}


_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _Made(dict[_K, _V]):
    """Values made on first use and kept for one batch (its postings own them): a card's
    source, a ``member:role`` account id — once per card or holder, not once per record. A
    hit is a plain dict lookup."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[_K], _V]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: _K) -> _V:
        value = self[key] = self._make(key)
        return value


def _card_source(card_id: str) -> Source:
    return Source(SourceKind.CARD, card_id)


class _Names:
    """Each card's transfer source and each ``member:role`` account id, made once and kept
    by its clearing (facts that never change): not once per record, nor per batch. Keyed by
    strings, so the collector has nothing to rescan in the keys; emptied past ``limit``."""

    __slots__ = ("accounts", "limit", "sources")

    def __init__(self, limit: int = 1 << 16) -> None:
        self.limit = limit
        self.sources: _Made[str, Source] = _Made(_card_source)
        self.accounts: dict[Role, _Made[str, str]] = {}

    def for_batch(self) -> _Names:
        """These names, within their bound, for one more batch."""
        if len(self.sources) > self.limit or sum(map(len, self.accounts.values())) > self.limit:
            self.sources.clear()
            self.accounts.clear()
        return self

    def of(self, role: Role) -> _Made[str, str]:
        """Account ids of one role, by member id."""
        ids = self.accounts.get(role)
        if ids is None:
            ids = self.accounts[role] = _Made(lambda member_id: account_id(member_id, role))
        return ids


class _Postings:
    """The transfers, card records and notices of a checked batch."""

    def __init__(self, batch: TerminalBatch, merchant_id: str, checked: CheckedBatch,
                 two_way: Ratio, names: _Names) -> None:
        self._txn_keys, self._sale_keys = checked.txn_keys, checked.sale_keys
        self.transfers: list[Transfer] = []
        self._record_ids: list[str] = []  # what each transfer posts, for its card record
        self.earned: dict[str, int] = {}
        self.redeemed = 0
        self._per_holder: dict[str, dict[str, int]] = {}
        bid = batch.batch_id
        terminal = Source(SourceKind.TERMINAL, batch.terminal_id)
        self._add_card_transfers(bid, merchant_id, checked, names)
        awarded = self.earned.get(Asset.CONSUMPTION_POINTS.value, 0)
        self.credit_points = two_way.apply(awarded, Rounding.DOWN)
        if self.credit_points:
            tid = f"{bid}/two-way"
            self.transfers.append(Transfer.single(
                tid, account_id(ALLIANCE_ID, Role.MERCHANT_CREDIT_ISSUED),
                account_id(merchant_id, Role.MERCHANT_CREDIT_POINTS), self.credit_points,
                Asset.MERCHANT_CREDIT_POINTS, Reason.MERCHANT_CREDIT, terminal,
                correlation_id=bid, details={"points_awarded": awarded, "rule": str(two_way)},
            ))
            self._record_ids.append("(two-way credit points)")
        self.payments_fen = checked.payments_fen

    @property
    def record_of(self) -> dict[str, str]:
        """Record id by transfer id (made when a rejection names its records)."""
        return dict(zip([t.id for t in self.transfers], self._record_ids, strict=True))

    def _add_card_transfers(self, bid: str, merchant_id: str, checked: CheckedBatch,
                            names: _Names) -> None:
        """One transfer per earn and per redeem. Each names the card as its source, the batch
        as its correlation id and the merchant (and, for earns, the agreement and the
        purchase) in its details; the terminal and the record are on the card record that
        points at the transfer. Sources and account ids are made once per card and holder."""
        single = Transfer.single
        transfers, record_ids, per_holder = self.transfers, self._record_ids, self._per_holder
        source, ids = names.sources, names.of
        earned: dict[Asset, int] = {}
        for record, holder, issuer, agreement, sale in checked.earns:
            rid, purse, amount = record.record_id, record.purse, record.amount
            transfers.append(single(
                f"{bid}/{rid}", ids(ISSUING_ROLE[purse])[issuer],
                ids(PURSE_ROLE[purse])[holder.member_id], amount, purse, Reason.EARN,
                source[record.card_id], correlation_id=bid,
                details={"agreement": agreement.id, "merchant": merchant_id,
                         "purchase_fen": sale.amount_fen, "sale": sale.key},
            ))
            record_ids.append(rid)
            earned[purse] = earned.get(purse, 0) + amount
            figures = per_holder.get(holder.member_id)
            if figures is None:
                figures = per_holder[holder.member_id] = {}
            key = _EARNED_KEY[purse]
            figures[key] = figures.get(key, 0) + amount
        self.earned.update((purse.value, points) for purse, points in earned.items())
        redeemed_at = ids(Role.POINTS_REDEEMED)[merchant_id]
        spender = ids(Role.CONSUMPTION_POINTS)
        redeem_details: dict[str, int | str] = {"merchant": merchant_id}
        redeemed = 0
        for record, holder in checked.redeems:
            rid, amount = record.record_id, record.amount
            transfers.append(single(
                f"{bid}/{rid}", spender[holder.member_id], redeemed_at,
                amount, Asset.CONSUMPTION_POINTS, Reason.REDEEM, source[record.card_id],
                correlation_id=bid, details=redeem_details,
            ))
            record_ids.append(rid)
            redeemed += amount
            figures = per_holder.get(holder.member_id)
            if figures is None:
                figures = per_holder[holder.member_id] = {}
            figures["redeemed"] = figures.get("redeemed", 0) + amount
        self.redeemed += redeemed

    def result(self, batch: TerminalBatch, merchant_id: str, day: date) -> ClearingResult:
        return ClearingResult(
            batch.batch_id, "created", merchant_id, batch.terminal_id, day, len(batch.records),
            dict(self.earned), self.redeemed, self.credit_points, self.payments_fen, {},
        )

    def card_rows(self, batch: TerminalBatch) -> list[tuple[Any, ...]]:
        """Rows for :data:`_CARD_COLUMNS`: every record, each with its verified MAC."""
        rows: list[tuple[Any, ...]] = []
        bid, terminal = batch.batch_id, batch.terminal_id
        transfer_of = dict(zip(self._record_ids, [t.id for t in self.transfers], strict=True))
        for r, txn_key, sale_key in zip(batch.records, self._txn_keys, self._sale_keys,
                                        strict=True):
            if isinstance(r, PaymentRecord):
                rows.append((
                    bid, r.record_id, r.kind, r.card_id, f"chip1.{r.application}", r.amount_fen,
                    txn_key, terminal, r.date + r.time, r.atc, None, None, r.cdol1 + r.aip,
                    r.iad, r.arqc, r.final_ac or None, r.cdol2 or None, r.final_iad or None,
                    True, None, None, None, FORMAT_VERSION,
                ))
            elif r.kind == "load":
                rows.append((
                    bid, r.record_id, r.kind, r.card_id, r.purse._value_, r.amount, txn_key,
                    terminal, r.date + r.time, r.card_seq, r.balance_after, None, None, None,
                    r.tac, None, None, None, True, None, sale_key, transfer_of.get(r.record_id),
                    FORMAT_VERSION,
                ))
            else:
                rows.append((
                    bid, r.record_id, r.kind, r.card_id, r.purse._value_, r.amount, txn_key,
                    terminal, r.date + r.time, None, None, r.terminal_seq, None, None, r.tac,
                    None, None, None, True, json.dumps(r.claimed(), sort_keys=True), None,
                    transfer_of.get(r.record_id), FORMAT_VERSION,
                ))
        return rows

    def notices(self, batch: TerminalBatch, merchant_id: str) -> list[Notice]:
        notices = []
        bid = batch.batch_id
        for member_id, figures in sorted(self._per_holder.items()):
            kind = (MessageKind.POINTS_REDEEMED if figures.keys() == {"redeemed"}
                    else MessageKind.POINTS_EARNED)
            notices.append(Notice(
                f"{bid}/notice/{member_id}", member_id, kind,
                {"batch": bid, "merchant": merchant_id, **figures},
            ))
        if self.credit_points:
            notices.append(Notice(
                f"{batch.batch_id}/notice/{merchant_id}", merchant_id, MessageKind.POINTS_EARNED,
                {"batch": batch.batch_id, "merchant_credit_points": self.credit_points},
            ))
        return notices


def _with(
    result: ClearingResult, *, status: str, balances: Mapping[str, Balance]
) -> ClearingResult:
    return dataclasses.replace(result, status=status, balances=balances)
