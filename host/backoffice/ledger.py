"""The double-entry ledger over a :class:`~host.backoffice.database.Database`.

Every write goes through :meth:`Ledger.apply` inside one serialised transaction: expire the
holds that are due, load the touched accounts and lock those whose balance is checked (a
bound) or whose holds are resolved, plan (see :mod:`posting`), then insert the transfers in
bulk (:func:`~host.backoffice.database.insert_rows`) and update the running balances
relatively, all before the commit. An account without bounds is moved without its row lock
(the issuing bank's account, moved by every authorisation's hold): nothing is checked
against its balance, and the relative update, guarded by "still without bounds", counts
every concurrent writer; on PostgreSQL the balance a transfer records for it is the one its
transaction read plus its own moves. In a group transaction (the service's group commit,
:mod:`.group_postings`) the moves of such accounts are summed and written once just before
the commit, and the due holds are looked up once. Business operations (clearing, settlement,
conversion, credit) call ``apply`` inside their own write transaction so their records and
their transfers commit together.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from host.backoffice.accounts import Account, AccountSpec
from host.backoffice.clock import to_micros
from host.backoffice.database import Database, chunked, insert_rows_together, on_driver
from host.backoffice.errors import (
    BoundsViolationError,
    IdReusedError,
    NotFoundError,
    TransferRejectedError,
)
from host.backoffice.group_postings import BALANCES, GroupPostings, move_free
from host.backoffice.posting import (
    TRANSFER_COLUMNS,
    AccountState,
    HoldState,
    HoldStatus,
    Plan,
    Planner,
    balance_from_row,
)
from host.backoffice.schema import (
    FORMAT_VERSION,
    ledger_accounts,
    ledger_bound_changes,
    ledger_open_holds,
    ledger_transfers,
)
from host.backoffice.transfers import Balance, Transfer, TransferKind, TransferResult

__all__ = ["Ledger"]

_T = ledger_transfers
_A = ledger_accounts
_RESOLUTION_STATUS = {
    TransferKind.POST_PENDING.value: HoldStatus.POSTED,
    TransferKind.VOID_PENDING.value: HoldStatus.VOIDED,
    TransferKind.EXPIRE_PENDING.value: HoldStatus.EXPIRED,
}
_MAX_RETRIES = 3
_PENDING = TransferKind.PENDING.value
#: every ``apply`` asks it first (one hold posted per authorisation does too): on the driver
_T_COLUMNS = tuple(c.name for c in _T.columns)
#: what a post, void or expiry needs of the hold it resolves, read by position (a claim
#: resolves 100,000 holds): the kind, then the columns of :meth:`HoldState.from_row`
_HOLD_COLUMNS = ("kind", "id", "debit_account", "credit_account", "asset", "reason", "amount",
                 "expires_at")
_DUE = f"SELECT transfer_id FROM {ledger_open_holds.name} WHERE expires_at <= ?"
#: when the next open hold falls due (a group transaction asks once, :mod:`.group_postings`)
_NEXT_DUE = f"SELECT min(expires_at) FROM {ledger_open_holds.name} WHERE expires_at > ?"
_A_COLUMNS = tuple(c.name for c in _A.columns)  # the table's order, as lock_rows reads it
_LOWER, _UPPER = _A_COLUMNS.index("lower_bound"), _A_COLUMNS.index("upper_bound")


class Ledger:
    """Accounts, transfers and balances; see the module docstring."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- accounts --------------------------------------------------------------------------

    def create_accounts(self, specs: Sequence[AccountSpec], *, at: datetime) -> list[str]:
        """Open accounts (own transaction). Returns ``created``/``exists`` per spec."""
        with self.db.write() as conn:
            return self.create_accounts_in(conn, specs, at=at)

    def create_accounts_in(
        self, conn: Connection, specs: Sequence[AccountSpec], *, at: datetime
    ) -> list[str]:
        """Open accounts inside the caller's write transaction.

        An id reused with a different asset, role, owner or bounds raises
        :class:`IdReusedError` (bounds are compared as first declared)."""
        existing = {row.id: row for row in self._rows_by_id(conn, _A, [s.id for s in specs])}
        answers: list[str] = []
        new_rows: list[dict[str, Any]] = []
        made: dict[str, AccountSpec] = {}
        ts = to_micros(at)
        for spec in specs:
            known = made.get(spec.id) or existing.get(spec.id)
            if known is not None:
                _compare_account(spec, known)
                answers.append("exists")
                continue
            made[spec.id] = spec
            new_rows.append({
                "id": spec.id, "asset": spec.asset.value, "owner_id": spec.owner_id,
                "role": spec.role, "lower_bound": spec.lower_bound,
                "upper_bound": spec.upper_bound, "debits_posted": 0, "credits_posted": 0,
                "debits_pending": 0, "credits_pending": 0, "created_at": ts,
                "format_version": FORMAT_VERSION,
            })
            answers.append("created")
        if new_rows:
            conn.execute(insert(_A), new_rows)
        return answers

    def account(self, account_id: str, *, conn: Connection | None = None) -> Account:
        """One account with its current balances."""
        rows = self.accounts([account_id], conn=conn)
        if not rows:
            raise NotFoundError(f"no account {account_id!r}")
        return rows[0]

    def accounts(self, ids: Iterable[str], *, conn: Connection | None = None) -> list[Account]:
        """Accounts by id (missing ids are left out), in id order."""
        ids = sorted(set(ids))
        if conn is not None:
            rows = self._rows_by_id(conn, _A, ids)
        else:
            with self.db.read() as own:
                rows = self._rows_by_id(own, _A, ids)
        return sorted((Account.from_row(r) for r in rows), key=lambda a: a.id)

    def set_bounds(
        self,
        conn: Connection,
        account_id: str,
        *,
        lower_bound: int | None,
        upper_bound: int | None,
        reason: str,
        at: datetime,
    ) -> Account:
        """Change an account's bounds inside the caller's write transaction; the change is
        logged with its reason. A bound may not be moved past the current balance."""
        rows = self.db.lock_rows(conn, _A, [account_id])
        if not rows:
            raise NotFoundError(f"no account {account_id!r}")
        row = rows[0]
        state = AccountState.from_row(row)
        lowest = state.credits_posted - state.debits_posted - state.debits_pending
        highest = state.credits_posted + state.credits_pending - state.debits_posted
        if lower_bound is not None and lowest < lower_bound:
            raise BoundsViolationError(f"{account_id}: lower bound {lower_bound} above the balance")
        if upper_bound is not None and highest > upper_bound:
            raise BoundsViolationError(f"{account_id}: upper bound {upper_bound} below the balance")
        conn.execute(
            update(_A).where(_A.c.id == account_id)
            .values(lower_bound=lower_bound, upper_bound=upper_bound)
        )
        conn.execute(insert(ledger_bound_changes).values(
            account_id=account_id, old_lower=row.lower_bound, new_lower=lower_bound,
            old_upper=row.upper_bound, new_upper=upper_bound, reason=reason,
            ts=to_micros(at), format_version=FORMAT_VERSION,
        ))
        return self.account(account_id, conn=conn)

    # -- transfers -------------------------------------------------------------------------

    def create_transfers(
        self, transfers: Sequence[Transfer], *, at: datetime
    ) -> list[TransferResult]:
        """Submit transfers in one transaction with TigerBeetle semantics: independent
        transfers succeed or fail on their own, linked chains as a unit. Returns one result per
        request, in order. Raises :class:`IdReusedError` (nothing posted) on a reused id."""
        for attempt in range(_MAX_RETRIES):
            try:
                with self.db.write() as conn:
                    return self.apply(conn, transfers, at=at).results
            except IntegrityError:
                # A concurrent writer inserted one of our ids between our check and our
                # insert (possible on PostgreSQL when the two lock no account in common:
                # different accounts, or accounts without bounds, which are never locked):
                # the retry sees it and answers exists / exists_with_different_*.
                if attempt == _MAX_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def post_all(self, transfers: Sequence[Transfer], *, at: datetime) -> list[TransferResult]:
        """Like :meth:`create_transfers` but all or nothing: if any request fails, nothing is
        written and :class:`TransferRejectedError` names the failures."""
        with self.db.write() as conn:
            plan = self.apply(conn, transfers, at=at, all_or_nothing=True)
        return plan.results

    def expire_due(self, *, at: datetime) -> int:
        """Expire every hold whose time has come; returns how many were released."""
        with self.db.write() as conn:
            plan = self.apply(conn, [], at=at)
        return len(plan.closed_holds)

    def apply(
        self,
        conn: Connection,
        transfers: Sequence[Transfer],
        *,
        at: datetime,
        all_or_nothing: bool = False,
        ids_are_new: bool = False,
        answers: bool = True,
    ) -> Plan:
        """Plan and write ``transfers`` inside the caller's write transaction.

        With ``all_or_nothing`` any failure raises :class:`TransferRejectedError` before
        anything is written. ``ids_are_new`` skips the existence look-up when the caller
        guarantees fresh ids by its own idempotency key (clearing: the batch id); a collision
        then surfaces as :class:`IdReusedError`. ``answers=False``: the plan answers only for
        failures and gives the balances of the accounts it moved (:class:`Planner`)."""
        at_micros = to_micros(at)
        group = self._group()
        if group is not None and group.nothing_due(at_micros):
            due: set[str] = set()
        else:
            due = self._due_hold_ids(conn, at_micros)
            if group is not None:
                group.due_after(on_driver(conn, _NEXT_DUE, (at_micros,)).first()[0])
        referenced = sorted({t.pending_id for t in transfers if t.pending_id is not None} | due)
        pending_rows = {r[1]: r for r in self._transfer_rows(conn, referenced, _HOLD_COLUMNS,
                                                              named=False)}
        account_ids = _accounts_named(transfers, pending_rows.values())
        states, free = self._load_accounts(conn, account_ids, _hold_accounts(pending_rows),
                                           group)
        existing = {} if ids_are_new else self._existing(conn, [t.id for t in transfers])
        holds = self._hold_states(conn, pending_rows)
        planner = Planner(at_micros=at_micros, accounts=states, existing=existing, holds=holds,
                          answers=answers)
        planner.expire(sorted((holds[h] for h in due if h in holds), key=lambda h: h.id))
        plan = planner.apply(transfers)
        if all_or_nothing and not plan.ok:
            raise TransferRejectedError({r.id: r.code.value for r in plan.results if not r.ok})
        try:
            self._write(conn, plan, free, group)
        except IntegrityError as exc:
            if ids_are_new:
                raise IdReusedError("transfer", "(one of the batch)", "content") from exc
            raise
        return plan

    def balances_after(self, conn: Connection, correlation_id: str) -> dict[str, Balance]:
        """The balances the transfers of one correlation id left behind (the original
        result of an operation answered again as ``exists``)."""
        query = (select(_T).where(_T.c.correlation_id == correlation_id).order_by(_T.c.seq))
        latest: dict[str, Balance] = {}
        for row in conn.execute(query):
            latest[row.debit_account] = balance_from_row(row, "dr")
            latest[row.credit_account] = balance_from_row(row, "cr")
        return latest

    # -- internals -------------------------------------------------------------------------

    def _load_accounts(
        self, conn: Connection, ids: Sequence[str], resolving: set[str],
        group: GroupPostings | None,
    ) -> tuple[dict[str, AccountState], set[str]]:
        """The accounts' states, and which of them are *free*: without bounds and not an
        account of a hold this request resolves, read without a lock (nothing is checked
        against their balance; :meth:`_write` moves them relatively). The others are locked
        FOR UPDATE on PostgreSQL, re-read under the lock (SQLite's write lock serialises)."""
        rows = self._account_rows(conn, ids, group)
        free = {r[0] for r in rows if r[_LOWER] is None and r[_UPPER] is None}
        free -= resolving
        held = [r[0] for r in rows if r[0] not in free]
        if held and not self.db.is_sqlite:
            fresh = {r[0]: r for r in self.db.lock_rows(conn, _A, held)}
            rows = [fresh.get(r[0], r) for r in rows]
        states = {r[0]: AccountState.from_row(r) for r in rows}
        if group is not None:  # this transaction's moves, not written yet
            for aid, state in states.items():
                pending = group.pending(aid)
                if pending is not None:
                    now = state.snapshot()
                    state.restore((now[0] + pending[0], now[1] + pending[1],
                                   now[2] + pending[2], now[3] + pending[3]))
        return states, free

    def _account_rows(self, conn: Connection, ids: Sequence[str],
                      group: GroupPostings | None) -> list[Any]:
        """The accounts' rows; in a group transaction on SQLite, those of accounts without
        bounds read once per group (:meth:`GroupPostings.read_before`): nothing else writes
        them before its commit, which moves them (the merchant's and the bank's accounts
        of every hold, read again by each)."""
        if group is None or not self.db.is_sqlite:
            return self.db.rows_where_in(conn, _A, _A_COLUMNS, "id", ids, named=False)
        known = [group.read_before(aid) for aid in ids]
        missing = [aid for aid, row in zip(ids, known, strict=True) if row is None]
        rows = [row for row in known if row is not None]
        if missing:
            fresh = self.db.rows_where_in(conn, _A, _A_COLUMNS, "id", missing, named=False)
            group.keep_read([r for r in fresh if r[_LOWER] is None and r[_UPPER] is None])
            rows.extend(fresh)
        return rows

    def _group(self) -> GroupPostings | None:
        """The ledger's state for the group transaction open on this thread, if one is."""
        kept = self.db.deferred()
        return kept if isinstance(kept, GroupPostings) else None

    def _write(self, conn: Connection, plan: Plan, free: set[str],
               group: GroupPostings | None) -> None:
        insert_rows_together(conn, [  # on PostgreSQL one round trip for a hold and its row
            (_T, TRANSFER_COLUMNS, plan.rows),
            (ledger_open_holds, ("transfer_id", "expires_at", "format_version"),
             [(tid, expires, FORMAT_VERSION) for tid, expires in plan.opened_holds])])
        for part in chunked(plan.closed_holds):  # plain SQL: a claim closes 100,000 holds
            on_driver(conn, f"DELETE FROM {ledger_open_holds.name} WHERE transfer_id IN "
                            f"({', '.join(['?'] * len(part))})", tuple(part))
        deltas = plan.deltas
        moved = sorted(deltas)
        bound = [aid for aid in moved if aid not in free]
        self.db.add_to_columns(conn, _A, BALANCES, [(*deltas[aid], aid) for aid in bound])
        if group is not None:  # a group commit: moved once, at its end
            group.forget_read(bound)  # written now: read again
            for aid in moved:
                if aid in free:
                    group.add(aid, deltas[aid])
            for _, expires in plan.opened_holds:
                group.opened(expires)
        else:
            move_free(conn, [(*deltas[aid], aid) for aid in moved if aid in free])

    @staticmethod
    def _rows_by_id(conn: Connection, table: Any, ids: Sequence[str]) -> list[Any]:
        rows: list[Any] = []
        for part in chunked(sorted(set(ids))):
            rows.extend(conn.execute(select(table).where(table.c.id.in_(part))).all())
        return rows

    def _transfer_rows(self, conn: Connection, ids: Sequence[str],
                       columns: Sequence[str] = _T_COLUMNS, *, named: bool = True) -> list[Any]:
        """Transfer rows by id (whole unless ``columns``), in plain SQL: a claim names
        100,000 holds."""
        return self.db.rows_where_in(conn, _T, columns, "id", sorted(set(ids)), named=named)

    def _existing(self, conn: Connection, ids: Sequence[str]) -> dict[str, Any]:
        return {row.id: row for row in self._transfer_rows(conn, ids)}

    @staticmethod
    def _due_hold_ids(conn: Connection, at_micros: int) -> set[str]:
        return {row[0] for row in on_driver(conn, _DUE, (at_micros,))}

    def _hold_states(self, conn: Connection, pending_rows: dict[str, Any]
                     ) -> dict[str, HoldState]:
        """The holds named, from their :data:`_HOLD_COLUMNS` rows, each with its status."""
        resolutions = dict(self.db.rows_where_in(
            conn, _T, ("pending_id", "kind"), "pending_id", sorted(pending_rows), named=False))
        holds: dict[str, HoldState] = {}
        for pid, row in pending_rows.items():
            if row[0] != _PENDING:
                status = HoldStatus.NOT_PENDING
            else:
                status = _RESOLUTION_STATUS.get(resolutions.get(pid, ""), HoldStatus.OPEN)
            holds[pid] = HoldState.from_row(row[1:], status)
        return holds


def _accounts_named(transfers: Sequence[Transfer], pending_rows: Collection[Any]) -> list[str]:
    named: set[str | None] = {t.debit_account for t in transfers}
    named.update(t.credit_account for t in transfers)
    named.discard(None)  # a post or void may leave them to its hold
    ids = cast(set[str], named)
    ids.update(row[2] for row in pending_rows)  # _HOLD_COLUMNS rows
    ids.update(row[3] for row in pending_rows)
    return sorted(ids)


def _hold_accounts(pending_rows: dict[str, Any]) -> set[str]:
    """The accounts of the holds a request resolves or expires: always locked, so two
    writers never both release one hold."""
    ids: set[str] = set()
    for row in pending_rows.values():  # _HOLD_COLUMNS rows
        ids.add(row[2])
        ids.add(row[3])
    return ids


def _compare_account(spec: AccountSpec, known: Any) -> None:
    fields: list[tuple[str, object, object]] = [
        ("asset", spec.asset.value, known.asset),
        ("role", spec.role, known.role),
        ("owner_id", spec.owner_id, known.owner_id),
    ]
    if isinstance(known, AccountSpec):
        fields += [("lower_bound", spec.lower_bound, known.lower_bound),
                   ("upper_bound", spec.upper_bound, known.upper_bound)]
    for name, wanted, stored in fields:
        if wanted != stored:
            raise IdReusedError("account", spec.id, name)
