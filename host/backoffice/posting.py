"""The posting rules of the ledger, in memory and free of I/O.

Theory of operation. The ledger layer opens a serialised transaction, loads (and locks) the
accounts a request touches, the transfers that already carry the requested ids and the holds
the request names; then a :class:`Planner` walks the request in order:

* requests are grouped into *chains*: a run of transfers with ``linked=True`` closed by the
  first one without it. A chain applies whole or not at all: on the first failure every
  change it made is undone, the culprit gets its own code and the others
  ``linked_event_failed``. A request may not end inside a chain.
* an id that already exists is compared field by field with the stored transfer: equal gives
  ``exists`` (with the balances the original produced), different raises
  :class:`~host.backoffice.errors.IdReusedError` and the whole request is refused.
* balance bounds are checked pessimistically, counting held amounts: the lowest the debit
  account could fall to (posted minus pending debits) must stay at or above its lower bound,
  the highest the credit account could rise to (posted plus pending credits) at or below its
  upper bound. Posting or voiding a hold can then never break a bound.

Each transfer is checked in full before it changes anything, so a lone transfer that fails
needs no undo; a chain keeps the state of each account before it first moved it, and undoes
the rest from the rows and holds it added to the plan.
The planner returns the rows to insert (tuples in :data:`TRANSFER_COLUMNS` order), the holds
opened and closed, and per-account deltas for relative balance updates; the ledger layer
writes them in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from json.encoder import encode_basestring as _quote
from operator import itemgetter
from typing import Any

from host.backoffice.assets import Asset
from host.backoffice.clock import to_micros
from host.backoffice.errors import IdReusedError
from host.backoffice.schema import FORMAT_VERSION, ledger_accounts
from host.backoffice.transfers import (
    Balance,
    Reason,
    SourceKind,
    Transfer,
    TransferCode,
    TransferKind,
    TransferResult,
)

__all__ = [
    "TRANSFER_COLUMNS",
    "AccountState",
    "HoldState",
    "HoldStatus",
    "Plan",
    "Planner",
    "balance_from_row",
]

#: Column order of the transfer rows a plan carries.
TRANSFER_COLUMNS = (
    "id", "kind", "debit_account", "credit_account", "asset", "amount", "posted_amount",
    "pending_delta", "pending_id", "expires_at", "reason", "source_kind", "source_id",
    "correlation_id", "details", "linked", "ts",
    "dr_debits_posted", "dr_credits_posted", "dr_debits_pending", "dr_credits_pending",
    "cr_debits_posted", "cr_credits_posted", "cr_debits_pending", "cr_credits_pending",
    "format_version",
)
_COLUMN = {name: index for index, name in enumerate(TRANSFER_COLUMNS)}
_REASON, _EXPIRES = _COLUMN["reason"], _COLUMN["expires_at"]
_DR = _COLUMN["dr_debits_posted"]
_CR = _COLUMN["cr_debits_posted"]
_ASSETS = {asset.value: asset for asset in Asset}
_REASONS = {reason.value: reason for reason in Reason}
_ACCOUNT_FIELDS = itemgetter(*(
    list(ledger_accounts.c.keys()).index(name)
    for name in ("id", "asset", "lower_bound", "upper_bound", "debits_posted", "credits_posted",
                 "debits_pending", "credits_pending")
))
#: Enum values by member: a dict look-up is cheaper than the ``.value`` descriptor.
_VALUE: dict[Any, str] = {
    member: member.value
    for enum in (Asset, Reason, TransferKind, SourceKind) for member in enum  # type: ignore[attr-defined]
}
_SINGLE = TransferKind.SINGLE
_PENDING = TransferKind.PENDING
_POST = TransferKind.POST_PENDING
_PENDING_VALUE = TransferKind.PENDING.value
_UNMOVED = (0, 0, 0, 0)
_CREATED = TransferCode.CREATED
_new_balance = _new_result = tuple.__new__


@dataclass(slots=True)
class AccountState:
    """The running balances and bounds of one account, as loaded under lock."""

    id: str
    asset: Asset
    lower_bound: int | None
    upper_bound: int | None
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @classmethod
    def from_row(cls, row: Any) -> AccountState:
        """From a whole ``ledger_accounts`` row (every column in the table's order, as
        :meth:`Database.lock_rows` returns it), read by position: clearing reads thousands."""
        (account_id, asset, lower, upper, debits_posted, credits_posted, debits_pending,
         credits_pending) = _ACCOUNT_FIELDS(row)
        return cls(account_id, _ASSETS[asset], lower, upper, debits_posted, credits_posted,
                   debits_pending, credits_pending)

    def snapshot(self) -> tuple[int, int, int, int]:
        return (self.debits_posted, self.credits_posted, self.debits_pending, self.credits_pending)

    def restore(self, snap: tuple[int, int, int, int]) -> None:
        (self.debits_posted, self.credits_posted, self.debits_pending, self.credits_pending) = snap

    def balance(self) -> Balance:
        # tuple.__new__ is what the named tuple's own constructor calls, minus one frame:
        # the planner takes two balances per transfer.
        return _new_balance(Balance, (self.id, self.debits_posted, self.credits_posted,
                                      self.debits_pending, self.credits_pending))


class HoldStatus(StrEnum):
    OPEN = "open"
    POSTED = "posted"
    VOIDED = "voided"
    EXPIRED = "expired"
    NOT_PENDING = "not_pending"  # the id names a transfer that is not a hold


@dataclass(slots=True)
class HoldState:
    """A pending transfer as the planner needs it."""

    id: str
    debit_account: str
    credit_account: str
    asset: Asset
    reason: Reason
    amount: int
    expires_at: int | None
    status: HoldStatus

    @classmethod
    def from_row(cls, row: Sequence[Any], status: HoldStatus) -> HoldState:
        """From a transfer row of the columns ``(id, debit_account, credit_account, asset,
        reason, amount, expires_at)``, read by position: a claim resolves 100,000 holds."""
        hold_id, debit, credit, asset, reason, amount, expires_at = row
        return cls(hold_id, debit, credit, _ASSETS[asset], _REASONS[reason], amount, expires_at,
                   status)


@dataclass(slots=True)
class Plan:
    """What to write, and what to answer."""

    results: list[TransferResult] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    opened_holds: list[tuple[str, int]] = field(default_factory=list)
    closed_holds: list[str] = field(default_factory=list)
    deltas: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    #: without answers (see :class:`Planner`): every account moved, as the plan left it
    moved: dict[str, AccountState] | None = None

    @property
    def ok(self) -> bool:
        return all(r.code.ok for r in self.results)

    @property
    def balances(self) -> dict[str, Balance]:
        """The latest balance of every account the answers mention (without answers: of
        every account the plan moved)."""
        if self.moved is not None:
            return {aid: account.balance() for aid, account in self.moved.items()}
        latest: dict[str, Balance] = {}
        for answer in self.results:
            for balance in (answer.debit_balance, answer.credit_balance):
                if balance is not None:
                    latest[balance.account_id] = balance
        return latest


def balance_from_row(row: Any, side: str) -> Balance:
    """The after-balance of one side (``dr``/``cr``) stored on a transfer row."""
    account = row.debit_account if side == "dr" else row.credit_account
    return Balance(
        account,
        getattr(row, f"{side}_debits_posted"),
        getattr(row, f"{side}_credits_posted"),
        getattr(row, f"{side}_debits_pending"),
        getattr(row, f"{side}_credits_pending"),
    )


class _Failed(Exception):
    def __init__(self, code: TransferCode) -> None:
        self.code = code


class Planner:
    """Applies requests to in-memory account states; see the module docstring.

    With ``answers=False`` the plan answers only for the requests that fail (and those that
    exist already), and gives the balances of the accounts it moved instead: a caller that
    posts all or nothing and needs only the final balances (clearing a batch of 100,000
    records) is spared three objects per transfer, which the cyclic garbage collector
    would otherwise scan again and again while the batch is posted."""

    def __init__(
        self,
        *,
        at_micros: int,
        accounts: Mapping[str, AccountState],
        existing: Mapping[str, Any],
        holds: Mapping[str, HoldState],
        answers: bool = True,
    ) -> None:
        self._at = at_micros
        self._answers = answers
        self._moved: dict[str, AccountState] = {}  # without answers: the accounts requests moved
        self._accounts = accounts
        self._existing = existing
        self._holds = dict(holds)
        self._initial: dict[str, tuple[int, int, int, int]] = {}
        self._made: dict[str, tuple[Any, ...]] = {}
        #: inside a chain: each account's state before the chain first moved it
        self._undo: dict[str, tuple[int, int, int, int]] | None = None
        self.plan = Plan()

    # -- entry points ----------------------------------------------------------------------

    def expire(self, due: Sequence[HoldState]) -> None:
        """Release holds whose expiry time has passed; each gets an ``expire`` transfer dated
        at its own expiry time so balances as of any moment stay true."""
        for hold in due:
            if hold.status is not HoldStatus.OPEN:
                continue
            debit, credit = self._accounts[hold.debit_account], self._accounts[hold.credit_account]
            self._touch(debit, credit)
            debit.debits_pending -= hold.amount
            credit.credits_pending -= hold.amount
            hold.status = HoldStatus.EXPIRED
            self.plan.closed_holds.append(hold.id)
            self._emit(
                f"~expire/{hold.id}", TransferKind.EXPIRE_PENDING, debit, credit, hold.asset,
                hold.amount, 0, -hold.amount, hold.id, None, Reason.RELEASE,
                ("system", "ledger"), None, None, False, hold.expires_at or self._at,
            )

    def apply(self, transfers: Sequence[Transfer]) -> Plan:
        """Plan every request, chain by chain; returns the finished plan."""
        index, count = 0, len(transfers)
        while index < count:
            transfer = transfers[index]
            if not transfer.linked:
                self._apply_lone(transfer)
                index += 1
                continue
            end = index
            while end < count and transfers[end].linked:
                end += 1
            chain = list(transfers[index : end + 1])
            self._apply_chain(chain)
            index = end + 1
        self._finish()
        return self.plan

    # -- lone transfers and chains ---------------------------------------------------------

    def _apply_lone(self, transfer: Transfer) -> None:
        tid = transfer.id
        if tid in self._made or tid in self._existing:
            stored = self._seen_before(transfer)
            if stored is not None:
                self.plan.results.append(_exists(transfer, stored))
                return
        try:
            if transfer.kind is _SINGLE:
                result = self._apply_movement(transfer)
            else:
                result = self._apply_one(transfer)
            if self._answers:
                self.plan.results.append(result)
        except _Failed as failure:
            self.plan.results.append(
                TransferResult(transfer.id, failure.code, *self._current_balances(transfer))
            )

    def _apply_chain(self, chain: list[Transfer]) -> None:
        seen = [self._seen_before(t) for t in chain]
        if any(row is not None for row in seen):
            for transfer, row in zip(chain, seen, strict=True):
                if row is not None:
                    self.plan.results.append(_exists(transfer, row))
                else:
                    self.plan.results.append(TransferResult(
                        transfer.id, TransferCode.LINKED_CHAIN_PARTLY_EXISTS,
                        *self._current_balances(transfer),
                    ))
            return
        if chain[-1].linked:
            codes = [TransferCode.LINKED_EVENT_FAILED] * (len(chain) - 1)
            self._fail_chain(chain, [*codes, TransferCode.LINKED_EVENT_CHAIN_OPEN])
            return
        self._undo = {}
        marks = (len(self.plan.rows), len(self.plan.opened_holds), len(self.plan.closed_holds))
        results: list[TransferResult] = []
        try:
            for index, transfer in enumerate(chain):
                try:
                    results.append(self._apply_one(transfer))
                except _Failed as failure:
                    self._roll_back(marks)
                    codes = [TransferCode.LINKED_EVENT_FAILED] * len(chain)
                    codes[index] = failure.code
                    self._fail_chain(chain, codes)
                    return
        finally:
            self._undo = None
        if self._answers:
            self.plan.results.extend(results)

    def _roll_back(self, marks: tuple[int, int, int]) -> None:
        """Undo a failed chain from what it left behind: the accounts' states before it, the
        holds it resolved (each was open: a resolution needs an open hold) and the rows it
        made (among them the holds it opened)."""
        for account_id, before in (self._undo or {}).items():
            self._accounts[account_id].restore(before)
        for hold_id in self.plan.closed_holds[marks[2] :]:
            self._holds[hold_id].status = HoldStatus.OPEN
        for row in self.plan.rows[marks[0] :]:
            self._made.pop(row[0], None)
            if row[1] == _PENDING_VALUE:
                self._holds.pop(row[0], None)
        del self.plan.rows[marks[0] :]
        del self.plan.opened_holds[marks[1] :]
        del self.plan.closed_holds[marks[2] :]

    def _fail_chain(self, chain: list[Transfer], codes: list[TransferCode]) -> None:
        for transfer, code in zip(chain, codes, strict=True):
            self.plan.results.append(
                TransferResult(transfer.id, code, *self._current_balances(transfer))
            )

    def _touch(self, debit: AccountState, credit: AccountState) -> None:
        """Called before two accounts change: keeps their first state (for the deltas) and,
        inside a chain, their state before the chain first moved them (for its undo)."""
        self._first_state(debit)
        self._first_state(credit)

    def _first_state(self, account: AccountState) -> None:
        initial, undo, aid = self._initial, self._undo, account.id
        if aid not in initial:  # first moved by this plan, so by this chain too: one tuple
            initial[aid] = snap = account.snapshot()
            if undo is not None:
                undo[aid] = snap
        elif undo is not None and aid not in undo:
            undo[aid] = account.snapshot()

    # -- one transfer: every check first, then the change ----------------------------------

    def _apply_one(self, transfer: Transfer) -> TransferResult:
        if transfer.kind is _SINGLE or transfer.kind is _PENDING:
            return self._apply_movement(transfer)
        return self._apply_resolution(transfer)

    def _apply_movement(self, t: Transfer) -> TransferResult:
        if t.debit_account == t.credit_account:
            raise _Failed(TransferCode.ACCOUNTS_MUST_BE_DIFFERENT)
        debit = self._accounts.get(t.debit_account)  # type: ignore[arg-type]
        if debit is None:
            raise _Failed(TransferCode.DEBIT_ACCOUNT_NOT_FOUND)
        credit = self._accounts.get(t.credit_account)  # type: ignore[arg-type]
        if credit is None:
            raise _Failed(TransferCode.CREDIT_ACCOUNT_NOT_FOUND)
        if debit.asset is not t.asset or credit.asset is not t.asset:
            raise _Failed(TransferCode.ASSET_MISMATCH)
        amount: int = t.amount  # type: ignore[assignment]
        expires = None if t.expires_at is None else to_micros(t.expires_at)
        if expires is not None and expires <= self._at:
            raise _Failed(TransferCode.EXPIRES_AT_NOT_IN_FUTURE)
        lower = debit.lower_bound
        if lower is not None and (
            debit.credits_posted - debit.debits_posted - debit.debits_pending - amount < lower
        ):
            raise _Failed(TransferCode.EXCEEDS_LOWER_BOUND)
        upper = credit.upper_bound
        if upper is not None and (
            credit.credits_posted + credit.credits_pending + amount - credit.debits_posted > upper
        ):
            raise _Failed(TransferCode.EXCEEDS_UPPER_BOUND)
        self._touch(debit, credit)
        if t.kind is _PENDING:
            debit.debits_pending += amount
            credit.credits_pending += amount
            posted, pending_delta = 0, amount  # the hold is its row (see _hold)
            if expires is not None:
                self.plan.opened_holds.append((t.id, expires))
        else:
            debit.debits_posted += amount
            credit.credits_posted += amount
            posted, pending_delta = amount, 0
        return self._emit_request(t, debit, credit, debit.asset, amount, posted, pending_delta,
                                  expires, t.reason)  # type: ignore[arg-type]

    def _hold(self, pending_id: str) -> HoldState | None:
        """The hold ``pending_id`` names: loaded, or opened earlier in this plan, whose state
        is made from its row when a transfer first resolves it (a claim opens 100,000 holds
        that nothing in the same plan resolves)."""
        hold = self._holds.get(pending_id)
        if hold is None:
            row = self._made.get(pending_id)
            if row is not None and row[1] == _PENDING_VALUE:
                hold = self._holds[pending_id] = HoldState.from_row(
                    (row[0], row[2], row[3], row[4], row[_REASON], row[5], row[_EXPIRES]),
                    HoldStatus.OPEN)
        return hold

    def _apply_resolution(self, t: Transfer) -> TransferResult:
        hold = self._hold(t.pending_id)  # type: ignore[arg-type]
        if hold is None:
            raise _Failed(TransferCode.PENDING_TRANSFER_NOT_FOUND)
        _check_hold_open(hold, self._at)
        codes = TransferCode
        _check_same(t.debit_account, hold.debit_account,
                    codes.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT)
        _check_same(t.credit_account, hold.credit_account,
                    codes.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT)
        _check_same(t.asset, hold.asset, codes.PENDING_TRANSFER_HAS_DIFFERENT_ASSET)
        _check_same(t.reason, hold.reason, codes.PENDING_TRANSFER_HAS_DIFFERENT_REASON)
        if t.kind is _POST:
            amount = hold.amount if t.amount is None else t.amount
            if amount > hold.amount:
                raise _Failed(TransferCode.EXCEEDS_PENDING_TRANSFER_AMOUNT)
            posted, status = amount, HoldStatus.POSTED
        else:
            if t.amount is not None and t.amount != hold.amount:
                raise _Failed(TransferCode.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT)
            amount, posted, status = hold.amount, 0, HoldStatus.VOIDED
        debit, credit = self._accounts[hold.debit_account], self._accounts[hold.credit_account]
        self._touch(debit, credit)
        debit.debits_pending -= hold.amount
        credit.credits_pending -= hold.amount
        debit.debits_posted += posted
        credit.credits_posted += posted
        hold.status = status
        self.plan.closed_holds.append(hold.id)
        return self._emit_request(t, debit, credit, hold.asset, amount, posted, -hold.amount,
                                  None, t.reason or hold.reason)

    # -- rows and answers ------------------------------------------------------------------

    def _emit_request(
        self,
        t: Transfer,
        debit: AccountState,
        credit: AccountState,
        asset: Asset,
        amount: int,
        posted: int,
        pending_delta: int,
        expires: int | None,
        reason: Reason,
    ) -> TransferResult:
        source = t.source
        self._emit(
            t.id, t.kind, debit, credit, asset, amount, posted, pending_delta, t.pending_id,
            expires, reason, (_VALUE[source.kind], source.id), t.correlation_id,
            details_text(t.details) if t.details else None, t.linked, self._at,
        )
        if not self._answers:
            self._moved[debit.id], self._moved[credit.id] = debit, credit
            return _MOVED
        return _new_result(TransferResult, (t.id, _CREATED, debit.balance(), credit.balance()))

    def _emit(
        self,
        id: str,
        kind: TransferKind,
        debit: AccountState,
        credit: AccountState,
        asset: Asset,
        amount: int,
        posted: int,
        pending_delta: int,
        pending_id: str | None,
        expires_at: int | None,
        reason: Reason,
        source: tuple[str, str],
        correlation_id: str | None,
        details: str | None,
        linked: bool,
        ts: int,
    ) -> None:
        row = (
            id, _VALUE[kind], debit.id, credit.id, _VALUE[asset], amount, posted, pending_delta,
            pending_id, expires_at, _VALUE[reason], source[0], source[1], correlation_id, details,
            linked, ts,
            debit.debits_posted, debit.credits_posted, debit.debits_pending,
            debit.credits_pending,
            credit.debits_posted, credit.credits_posted, credit.debits_pending,
            credit.credits_pending,
            FORMAT_VERSION,
        )
        self.plan.rows.append(row)
        self._made[id] = row

    def _seen_before(self, t: Transfer) -> Any:
        made = self._made.get(t.id)
        stored = _Row(made) if made is not None else self._existing.get(t.id)
        if stored is None:
            return None
        mismatch = _first_difference(t, stored)
        if mismatch is not None:
            raise IdReusedError("transfer", t.id, mismatch)
        return stored

    def _current_balances(self, t: Transfer) -> tuple[Balance | None, Balance | None]:
        debit_id, credit_id = t.debit_account, t.credit_account
        hold = None if t.pending_id is None else self._hold(t.pending_id)
        if hold is not None:
            debit_id, credit_id = debit_id or hold.debit_account, credit_id or hold.credit_account
        debit = self._accounts.get(debit_id) if debit_id else None
        credit = self._accounts.get(credit_id) if credit_id else None
        return (debit.balance() if debit else None, credit.balance() if credit else None)

    def _finish(self) -> None:
        if not self._answers:
            self.plan.moved = self._moved
        accounts, deltas = self._accounts, self.plan.deltas
        for aid, (debits_posted, credits_posted, debits_pending, credits_pending) in (
                self._initial.items()):
            after = accounts[aid]
            delta = (after.debits_posted - debits_posted, after.credits_posted - credits_posted,
                     after.debits_pending - debits_pending,
                     after.credits_pending - credits_pending)
            if delta != _UNMOVED:
                deltas[aid] = delta


#: what a request that moved answers when the planner gives no answers (never shown)
_MOVED = TransferResult("", TransferCode.CREATED)


def _exists(transfer: Transfer, stored: Any) -> TransferResult:
    return TransferResult(transfer.id, TransferCode.EXISTS, balance_from_row(stored, "dr"),
                          balance_from_row(stored, "cr"))


#: why a hold that is no longer open cannot be posted or voided
_CLOSED_HOLD_CODES = {
    HoldStatus.POSTED: TransferCode.PENDING_TRANSFER_ALREADY_POSTED,
    HoldStatus.VOIDED: TransferCode.PENDING_TRANSFER_ALREADY_VOIDED,
    HoldStatus.EXPIRED: TransferCode.PENDING_TRANSFER_EXPIRED,
    HoldStatus.NOT_PENDING: TransferCode.PENDING_TRANSFER_NOT_PENDING,
}


def _check_hold_open(hold: HoldState, at: int) -> None:
    if hold.status is not HoldStatus.OPEN:
        raise _Failed(_CLOSED_HOLD_CODES[hold.status])
    if hold.expires_at is not None and hold.expires_at <= at:
        raise _Failed(TransferCode.PENDING_TRANSFER_EXPIRED)


def _check_same(given: object, held: object, code: TransferCode) -> None:
    if given is not None and given != held:
        raise _Failed(code)


def details_text(details: Mapping[str, int | str]) -> str | None:
    """Canonical JSON of a transfer's details (keys sorted, no spaces), None when empty.
    ``details`` is a :class:`Transfer`'s, whose keys its constructor already sorted (this
    runs once per transfer planned: it does not sort them again)."""
    if not details:
        return None
    parts = [
        f"{_quote(key)}:{value if type(value) is int else _quote(value)}"  # type: ignore[arg-type]
        for key, value in details.items()
    ]
    return "{" + ",".join(parts) + "}"


def _first_difference(t: Transfer, stored: Any) -> str | None:
    """Name of the first field where a request differs from the stored transfer, or None."""
    expires = None if t.expires_at is None else to_micros(t.expires_at)
    checks: list[tuple[str, bool]] = [
        ("flags", stored.kind == t.kind.value and bool(stored.linked) == t.linked),
        ("pending_id", stored.pending_id == t.pending_id),
        ("debit_account", t.debit_account is None or stored.debit_account == t.debit_account),
        ("credit_account", t.credit_account is None or stored.credit_account == t.credit_account),
        ("asset", t.asset is None or stored.asset == t.asset.value),
        ("amount", t.amount is None or stored.amount == t.amount),
        ("expires_at", stored.expires_at == expires),
        ("reason", t.reason is None or stored.reason == t.reason.value),
        ("source", (stored.source_kind, stored.source_id) == (t.source.kind.value, t.source.id)),
        ("correlation_id", stored.correlation_id == t.correlation_id),
        ("details", stored.details == details_text(t.details)),
    ]
    return next((name for name, same in checks if not same), None)


class _Row:
    """Attribute access over a planned row tuple, like a database row."""

    __slots__ = ("_data",)

    def __init__(self, data: tuple[Any, ...]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[_COLUMN[name]]
        except KeyError:
            raise AttributeError(name) from None
