"""What the ledger keeps across the postings of one group transaction.

The service commits the authorisations of many terminals together (group commit,
:meth:`host.service.core.ServiceCore.handle_many`), each in a savepoint of one write
transaction, each posting one hold through :meth:`Ledger.apply
<host.backoffice.ledger.Ledger.apply>`. Two things each apply would otherwise do again
are kept for the whole transaction by a :class:`GroupPostings` (the
:class:`~host.backoffice.database.Deferred` of that write):

- **Moves of accounts without bounds, written at the commit.** Such an account (the
  issuing bank's and the merchants' operator accounts) is moved by a relative update
  guarded by "still without bounds" (:mod:`.ledger`). Every hold moves the bank's
  account, so with an update per hold the row's lock on PostgreSQL would be taken at the
  group's first hold and kept to its commit: every other writer, in this process or
  another, would wait out the whole group. The moves are summed per account instead and
  written as one guarded update per account, in account order, just before the commit:
  the row is locked for one round trip, and two groups lock in the same order. The ledger
  adds what is kept to the accounts it reads in the transaction (:meth:`pending`), so a
  transfer records the balance its transaction read plus every move of that transaction
  before it, as when each move was written at once.
- **When the next hold falls due.** Every apply first expires the holds that are due (a
  look-up of the open holds by expiry). The first apply of the group also asks when the
  earliest of the others falls due (:meth:`due_after`); until then no later apply of the
  group looks again, unless one of its own holds falls due earlier or a savepoint that
  may have expired holds was rolled back. On SQLite the write lock makes that exact; on
  PostgreSQL a hold another process commits meanwhile, due within the group's few
  milliseconds, is expired by the next transaction's first apply instead of this one's:
  expiry is lazy in any case (a hold is released by the first apply that looks after it
  is due and visible).

- **The rows of accounts without bounds, on SQLite.** Every hold reads the bank's and
  the merchant's accounts again. Their rows change only at the commit (the moves above),
  and SQLite's write lock keeps every other writer out until then, so the group reads
  each once (:meth:`read_before`); an account that one of the group's transfers writes at
  once (a hold it resolves) is read again after. On PostgreSQL each apply reads them, as
  other processes commit meanwhile.

What a savepoint kept and then rolled back is forgotten with it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from host.backoffice.database import on_driver_many
from host.backoffice.errors import BoundsViolationError
from host.backoffice.schema import ledger_accounts

__all__ = ["BALANCES", "MOVE_FREE", "GroupPostings", "move_free"]

#: the balance columns a move changes, in the order of a plan's deltas
BALANCES = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
#: a free account moves only while it still has no bound
MOVE_FREE = (f"UPDATE {ledger_accounts.name} SET {', '.join(f'{c} = {c} + ?' for c in BALANCES)} "
             "WHERE id = ? AND lower_bound IS NULL AND upper_bound IS NULL")

Deltas = tuple[int, int, int, int]


def move_free(conn: Connection, moves: list[tuple[int, int, int, int, str]]) -> None:
    """Write ``moves`` (the four deltas, then the account id; in account order); raises
    :class:`BoundsViolationError` if one of the accounts has gained a bound since it was
    read (nothing of the statement kept: the caller's transaction or savepoint undoes)."""
    if moves and on_driver_many(conn, MOVE_FREE, moves) != len(moves):
        # a bound was set on one of them after it was read: its lock was never taken
        raise BoundsViolationError("an account gained a bound while a transfer moving it "
                                   "was planned; nothing was written, try again")


class GroupPostings:
    """The ledger's state for one group transaction (see the module)."""

    def __init__(self) -> None:
        #: the moves kept, in order (undone from the end to a savepoint's mark)
        self._kept: list[tuple[str, Deltas]] = []
        #: the sum of the moves kept, per account
        self._sums: dict[str, list[int]] = {}
        #: no open hold falls due before this (micros); None: not known, look
        self._due_after: int | None = None
        #: rows of accounts without bounds read in this transaction, by id (SQLite)
        self._read: dict[str, Any] = {}

    # -- moves of accounts without bounds -------------------------------------------------

    def add(self, account_id: str, deltas: Deltas) -> None:
        """Keep a move of ``account_id`` (its four balance deltas) for the commit."""
        self._kept.append((account_id, deltas))
        total = self._sums.get(account_id)
        if total is None:
            self._sums[account_id] = list(deltas)
        else:
            for n, d in enumerate(deltas):
                total[n] += d

    def pending(self, account_id: str) -> Deltas | None:
        """What is kept for ``account_id`` and not yet written (None: nothing)."""
        total = self._sums.get(account_id)
        return None if total is None else (total[0], total[1], total[2], total[3])

    # -- rows read -------------------------------------------------------------------------

    def read_before(self, account_id: str) -> Any:
        """The row of ``account_id`` read earlier in this transaction (None: not read, or
        not kept)."""
        return self._read.get(account_id)

    def keep_read(self, rows: list[Any]) -> None:
        """Keep rows of accounts without bounds, just read, for the rest of the group."""
        for row in rows:
            self._read[row[0]] = row

    def forget_read(self, account_ids: list[str]) -> None:
        """Accounts written at once: their rows are read again."""
        for account_id in account_ids:
            self._read.pop(account_id, None)

    # -- due holds ---------------------------------------------------------------------------

    def nothing_due(self, at_micros: int) -> bool:
        """Whether it is known that no open hold is due at ``at_micros``."""
        return self._due_after is not None and at_micros < self._due_after

    def due_after(self, earliest: int | None) -> None:
        """The earliest expiry among the open holds not due now (None: none is open)."""
        self._due_after = earliest if earliest is not None else 1 << 62

    def opened(self, expires: int | None) -> None:
        """A hold of this transaction opened, lapsing at ``expires`` (None: never)."""
        if expires is not None and self._due_after is not None:
            self._due_after = min(self._due_after, expires)

    # -- the transaction (Deferred) -------------------------------------------------------

    def mark(self) -> int:
        return len(self._kept)

    def undo_to(self, mark: int) -> None:
        for account_id, deltas in self._kept[mark:]:
            total = self._sums[account_id]
            for n, d in enumerate(deltas):
                total[n] -= d
        del self._kept[mark:]
        self._due_after = None  # holds it expired are open again: look next time
        self._read.clear()  # what the savepoint wrote at once is undone: read again

    def finish(self, conn: Connection) -> None:
        moves = [(t[0], t[1], t[2], t[3], aid) for aid, t in sorted(self._sums.items())
                 if any(t)]
        self._kept.clear()
        self._sums.clear()
        self._read.clear()
        move_free(conn, moves)
