"""Where the back office keeps its data: SQLite in a file by default (zero set-up), PostgreSQL
when given a ``postgresql+psycopg://`` URL, the same code for both.

Writers are serialised so concurrent terminals never lose an update:

* SQLite: every write transaction starts with ``BEGIN IMMEDIATE`` (the database write lock is
  taken up front, so two writers never both read a balance and then both write it); the
  journal is in WAL mode so readers are not blocked.
* PostgreSQL: the accounts whose balance a transaction checks are locked with ``SELECT …
  FOR UPDATE`` in ascending id order (a stable order, so two transactions cannot deadlock on
  each other), and balances are updated relatively (``x = x + :delta``): on the locked rows,
  and on accounts without bounds, which the ledger moves without the lock (see
  :mod:`host.backoffice.ledger`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InvalidatePoolError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateColumn

from apdu_specs.caches import pure_cache
from host.backoffice.errors import ConfigurationError
from host.backoffice.schema import ADDED_COLUMNS, metadata

__all__ = ["DEFAULT_DB_FILE", "Database", "Deferred", "add_missing_columns", "chunked", "default_url",
           "insert_rows", "insert_rows_together", "no_ledger", "on_driver", "on_driver_many", "sqlite_file"]

DEFAULT_DB_FILE = "dualcard.sqlite3"
_WRITE_OPTION = "dualcard_write"
#: Rows per IN (...) list: far below SQLite's and PostgreSQL's parameter limits.
CHUNK = 500
#: Parameters per multi-row INSERT on SQLite: the limit of any build (older ones stop at 999).
_SQLITE_MAX_PARAMS = 999
#: Rows PostgreSQL takes in one INSERT rather than a COPY (:func:`insert_rows`).
_FEW_ROWS = 16
#: ``Connection.info`` key: the savepoints opened on PostgreSQL and not yet sent, in order
#: (:meth:`Database.write`: each goes with the next statement, in one round trip)
_QUEUED = "dualcard_queued_savepoints"
#: ``Connection.info`` key: the driver connection and the cursor kept for it (:func:`_on_cursor`)
_CURSOR = "dualcard_cursor"
#: seconds a pooled PostgreSQL connection may rest before it is pinged on checkout
PING_AFTER_IDLE = 1.0


def default_url(env: dict[str, str] | None = None) -> str:
    """``DUALCARD_DB`` if set (a URL or a file path), else ``./dualcard.sqlite3``."""
    value = (env if env is not None else os.environ).get("DUALCARD_DB", "").strip()
    return as_url(value or DEFAULT_DB_FILE)


def as_url(value: str) -> str:
    """Accept a database URL or a plain file path (taken as an SQLite file)."""
    if "://" in value:
        return value
    return f"sqlite:///{value}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL; None for another database or an in-memory one."""
    try:
        parsed = make_url(as_url(url))
    except (ArgumentError, ValueError):
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def no_ledger(url: str) -> ConfigurationError:
    """The error for a database without the ledger's tables, naming the command that makes
    them."""
    return ConfigurationError(f"no ledger in {url}: run `dualcard ledger init` first")


def chunked(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of at most ``size`` items, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Deferred(Protocol):
    """Writes a transaction keeps for its commit (:meth:`Database.write`'s ``deferred``):
    gathered while it runs, written by :meth:`finish` just before it commits, and undone
    with the savepoint they were gathered in. What it keeps must be writable in any order
    and at any point of the transaction (relative updates): the group commit's moves of
    accounts without bounds (:class:`host.backoffice.group_postings.GroupPostings`)."""

    def mark(self) -> int:
        """A point to undo to (a savepoint is taken)."""
        ...

    def undo_to(self, mark: int) -> None:
        """Forget what was kept since ``mark`` (its savepoint was rolled back)."""
        ...

    def finish(self, conn: Connection) -> None:
        """Write what was kept (the transaction commits next); raising rolls it back."""
        ...


@dataclass
class _Open:
    """The write transaction a thread has open on a :class:`Database`."""

    conn: Connection
    flush: bool
    depth: int = 0  #: savepoints open in it
    #: writes kept for the commit, None: each written when made
    deferred: Deferred | None = None


class _Joined:
    """A write inside ``outer`` (:meth:`Database.write`): a savepoint (unless not
    ``alone``), and ``outer``'s durability raised to ``flush`` where the database allows
    it."""

    __slots__ = ("alone", "flush", "is_sqlite", "mark", "name", "outer", "queued")

    def __init__(self, is_sqlite: bool, outer: _Open, flush: bool, alone: bool) -> None:
        self.is_sqlite = is_sqlite
        self.outer = outer
        self.flush = flush
        self.alone = alone
        self.name = ""
        self.queued: list[str] | None = None
        self.mark = 0

    def __enter__(self) -> Connection:
        outer = self.outer
        if self.flush and not outer.flush:
            if self.is_sqlite:
                raise ConfigurationError("a write that waits for the disk cannot join one "
                                         "that does not (SQLite)")
            outer.conn.exec_driver_sql("SET LOCAL synchronous_commit TO ON")
            outer.flush = True
        if not self.alone:
            return outer.conn
        # on the driver: SQLAlchemy's own savepoints compile a statement each time
        outer.depth += 1
        self.name = name = f"dualcard_{outer.depth}"
        if self.is_sqlite:
            _savepoint(self._driver(), f"SAVEPOINT {name}")
        else:  # sent with the savepoint's first statement, in one round trip
            self.queued = outer.conn.info.setdefault(_QUEUED, [])
            self.queued.append(name)
        self.mark = outer.deferred.mark() if outer.deferred is not None else 0
        return outer.conn

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if not self.alone:
            return
        outer, name, queued = self.outer, self.name, self.queued
        if kind is not None:
            try:
                if queued and name in queued:  # never sent: nothing of it on the server
                    del queued[queued.index(name):]
                else:
                    _savepoint(self._driver(), f"ROLLBACK TO SAVEPOINT {name}")
                    _savepoint(self._driver(), f"RELEASE SAVEPOINT {name}")
                if outer.deferred is not None:
                    outer.deferred.undo_to(self.mark)
            finally:
                outer.depth -= 1
            return
        outer.depth -= 1
        if queued and queued[-1] == name:  # nothing ran in it: it need never be sent
            queued.pop()
        # On PostgreSQL a savepoint that succeeded is left to the commit: a round trip
        # saved per nested write (a later one of the same name is the most recent, the
        # one ROLLBACK TO names; rolling back an enclosing one discards it). SQLite
        # checks every open savepoint on each page it writes, and a group commit
        # (``host.service``) nests hundreds: there it is released at once.
        if self.is_sqlite:
            _savepoint(self._driver(), f"RELEASE SAVEPOINT {name}")

    def _driver(self) -> Any:
        driver = self.outer.conn.connection.dbapi_connection
        assert driver is not None
        return driver


class Database:
    """An engine plus the transaction discipline of the ledger."""

    def __init__(self, url: str, *, busy_timeout_s: float = 60.0, ledger: bool = True) -> None:
        self.url = as_url(url)
        #: whether this database holds the ledger (a database of other tables, such as the
        #: issuer's number store, never reports a missing ledger)
        self.ledger = ledger
        try:
            parsed = make_url(self.url)
        except (ArgumentError, ValueError) as exc:
            raise ConfigurationError(f"not a database URL: {url!r}") from exc
        self.dialect = parsed.get_backend_name()
        #: the parts (``"prepaid"``) whose tables this object has found and brought up to
        #: date: each part checks once per database object, not on every request, and the
        #: knowledge goes with the object (no module keeps a registry of databases)
        self.up_to_date: set[str] = set()
        #: per thread, the write transaction open on it (``unit``), which nested writes join
        self._open = threading.local()
        #: whether SQLite connections checkpoint as they commit (:meth:`commits_checkpoint`)
        self._autocheckpoint = True
        #: set when SQLite's log should start again from its beginning (:meth:`restart_log`)
        self._restart_log = False
        #: SQLite: the threads of this process take turns to write on this lock, each woken
        #: as the last one commits (:meth:`_turn`)
        self._writer = threading.Lock()
        self._busy_timeout_s = busy_timeout_s
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"unsupported database {self.dialect!r}: use SQLite or PostgreSQL"
            )
        try:
            self.engine: Engine = self._make_engine(parsed, busy_timeout_s)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise ConfigurationError(
                f"no driver for {parsed.drivername!r}: install dualcard[postgres] for PostgreSQL"
            ) from exc

    def commits_checkpoint(self, on: bool) -> None:
        """Whether this database's SQLite connections checkpoint the log as they commit
        (SQLite's default) or leave it to a :class:`~host.backoffice.wal_checkpoints.
        BackgroundCheckpoints`; the pool is emptied so that every connection made from
        now on follows (one checked out keeps its setting until returned and closed)."""
        self._autocheckpoint = on
        if sqlite_file(self.url) is not None:  # an in-memory database lives in its pool
            self.engine.dispose()

    def restart_log(self) -> None:
        """Have the next write of this process start SQLite's log again from its beginning.

        SQLite writes its log from the start again only when a write transaction begins
        after a checkpoint copied all of it. A checkpoint beside a busy writer
        (:class:`~host.backoffice.wal_checkpoints.BackgroundCheckpoints`) never finds a
        moment between two transactions: it runs for tens of milliseconds while groups
        commit every few, so the log grew by every commit, ~50 MB a second at 2,000
        authorisations a second, and each write appended to the file. So the checkpointer,
        once the log is long, asks here; the next outermost write then checkpoints the few
        pages committed since, before it begins (a few milliseconds: what the background
        pass copied and flushed is not done again), and begins on a log copied whole, which
        SQLite then starts again from its beginning. A checkpoint that fails here (another
        process writing) leaves the write alone; the next pass asks again."""
        self._restart_log = True

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This thread's turn to write, among the threads of this process (SQLite).

        SQLite's busy handler makes a writer that finds the file locked sleep and try again
        (1, 2, 5, 10 … 100 ms apart): a thread of this process waiting so on another, as the
        ISO door's and the HTTP door's handlers may (D64), would start up to a hundred
        milliseconds after the lock fell free. On this lock it starts the moment the other
        commits; SQLite's busy handler is left to other processes. Waiting longer than the
        busy timeout raises "database is locked" as SQLite would. PostgreSQL's writers need
        no turns (its row locks order them)."""
        if not self.is_sqlite:
            yield
            return
        if not self._writer.acquire(timeout=self._busy_timeout_s):
            error = sqlite3.OperationalError("database is locked")
            raise DBAPIError.instance("BEGIN IMMEDIATE", None, error, sqlite3.Error,
                                      dialect=self.engine.dialect) from error
        try:
            yield
        finally:
            self._writer.release()

    def _before_write(self, raw: Any) -> None:
        """What an outermost SQLite write does on its connection before it begins."""
        if self._restart_log:
            self._restart_log = False
            with suppress(sqlite3.Error):
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _sqlite_checkpoints(self, dbapi_connection: Any, _record: Any) -> None:
        if not self._autocheckpoint:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _make_engine(self, parsed: Any, busy_timeout_s: float) -> Engine:
        if self.dialect == "postgresql":
            engine = create_engine(parsed)
            event.listen(engine, "checkin", _note_idle)
            event.listen(engine, "before_cursor_execute", _send_queued_savepoints)
            event.listen(engine, "checkout", lambda dbapi_connection, record, _proxy:
                         _ping_if_idle(engine.dialect, dbapi_connection, record))
            return engine
        in_memory = parsed.database in (None, "", ":memory:")
        kwargs: dict[str, Any] = {"connect_args": {"timeout": busy_timeout_s}}
        if in_memory:
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"]["check_same_thread"] = False
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "connect", self._sqlite_checkpoints)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine

    def create_schema(self) -> None:
        """Create every table that does not exist yet, and add the columns
        (:data:`~host.backoffice.schema.ADDED_COLUMNS`) an older one lacks (idempotent)."""
        with self.schema_change() as conn:
            metadata.create_all(conn)
            _add_missing_columns(conn)

    def upgrade_schema(self) -> None:
        """Add the columns an older database's tables lack (idempotent): what a part that
        reads them (the service host) runs at start, without creating the ledger."""
        with self.schema_change() as conn:
            _add_missing_columns(conn)

    @contextmanager
    def schema_change(self) -> Iterator[Connection]:
        """A transaction that creates tables. On PostgreSQL it holds one advisory lock, so
        that processes starting together take turns: a ``CREATE TABLE`` that checks first
        still races a concurrent one in the catalogue there (a duplicate ``pg_type`` row).
        On SQLite it takes the write lock from its start (``BEGIN IMMEDIATE``, as every
        write does): a transaction that first reads the catalogue and then creates would
        meet another process's commit in between with "database is locked" at once, which
        SQLite's busy handler does not wait out."""
        with self._turn(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                if not self.is_sqlite:
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
                yield conn

    def has_schema(self) -> bool:
        with self.engine.connect() as conn:
            return conn.dialect.has_table(conn, "ledger_accounts")

    @contextmanager
    def _schema_required(self) -> Iterator[None]:
        """A database error on a database without the ledger's tables (a fresh file, the
        wrong URL) becomes :func:`no_ledger`, not SQL's "no such table"."""
        try:
            yield
        except DBAPIError:
            if not self.ledger:
                raise
            try:
                missing = not self.has_schema()
            except DBAPIError:
                missing = False  # unreachable: the original error says more
            if missing:
                raise no_ledger(self.url) from None
            raise

    def write(self, *, flush: bool = True, alone: bool = True,
              deferred: Deferred | None = None) -> AbstractContextManager[Connection]:
        """One serialised write transaction: committed on success, rolled back on error.

        ``flush=False`` is for records whose loss in a power cut fails safe (the issuer's
        log of its answers, load grants: lost, they refuse points, never mint them): the
        commit stays atomic and ordered but does not wait for the disk (SQLite
        ``synchronous=NORMAL`` for this transaction, PostgreSQL ``synchronous_commit=off``).
        Ledger postings always flush.

        A write opened inside another on the same thread joins it: a savepoint in the
        outer transaction (rolled back alone on error, the outer going on), committed with
        it. So a caller can make one transaction of several operations that each open
        their own (the service's authorisation: STAN, the issuer's record, the hold).
        Durability is the outermost write's: one that waits for the disk cannot join one
        that does not on SQLite (its safety level is fixed for a transaction), which
        raises :class:`ConfigurationError`.

        ``alone=False`` joins without a savepoint: for a write none of whose callers goes
        on after its error (each lets it end the enclosing write or savepoint, which undoes
        it), so being undone alone would never be used. Two statements saved on SQLite,
        one round trip on PostgreSQL (the STAN taken and the hold posted, per
        authorisation).

        ``deferred`` (an outermost write only) keeps some writes for the commit
        (:class:`Deferred`; :meth:`deferred` finds it from inside): a group commit's moves
        of accounts without bounds, one relative update per account for the whole group,
        its row lock on PostgreSQL taken just before the commit instead of at the group's
        first move.

        A joined write is an object of its own (:class:`_Joined`), not a generator: the
        service's authorisation opens five, inside the one its group shares."""
        outer: _Open | None = getattr(self._open, "unit", None)
        if outer is None:
            return self._outermost(flush, deferred)
        if deferred is not None:
            raise ConfigurationError("only an outermost write keeps writes for its commit")
        return _Joined(self.is_sqlite, outer, flush, alone)

    @contextmanager
    def _outermost(self, flush: bool, deferred: Deferred | None) -> Iterator[Connection]:
        """:meth:`write` when this thread has none open: its own transaction."""
        with self._schema_required(), self._turn(), self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            raw = conn.connection.dbapi_connection  # pragmas outside SQLAlchemy's transaction
            if self.is_sqlite:
                self._before_write(raw)
                if not flush:
                    raw.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
            try:
                with conn.begin():
                    if not flush and not self.is_sqlite:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    self._open.unit = _Open(conn, flush, deferred=deferred)
                    try:
                        yield conn
                        if deferred is not None:
                            deferred.finish(conn)
                    finally:
                        self._open.unit = None
                        conn.info.pop(_QUEUED, None)  # opened, never used: nothing to send
            finally:
                if not flush and self.is_sqlite:
                    raw.execute("PRAGMA synchronous=FULL")  # type: ignore[union-attr]

    def deferred(self) -> Deferred | None:
        """What the write this thread has open keeps for its commit (its ``deferred``);
        None when it keeps nothing or no write is open."""
        unit: _Open | None = getattr(self._open, "unit", None)
        return None if unit is None else unit.deferred

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both databases); inside a write on
        the same thread, that write's transaction (which sees its own changes)."""
        outer: _Open | None = getattr(self._open, "unit", None)
        if outer is not None:
            yield outer.conn
            return
        with self._schema_required(), self.engine.connect() as conn, conn.begin():
            yield conn

    def lock_rows(self, conn: Connection, table: Any, ids: Sequence[str]) -> list[Any]:
        """Rows of ``table`` whose id is in ``ids`` (every column, in the table's order),
        locked FOR UPDATE on PostgreSQL in ascending id order (SQLite already holds the write
        lock)."""
        columns = [c.name for c in table.columns]
        return self.rows_where_in(conn, table, columns, "id", sorted(set(ids)),
                                  lock=not self.is_sqlite)

    def rows_where_in(
        self,
        conn: Connection,
        table: Any,
        columns: Sequence[str],
        key: str,
        values: Sequence[Any],
        *,
        lock: bool = False,
        named: bool = True,
    ) -> list[Any]:
        """``SELECT columns FROM table WHERE key IN values`` in chunks, in plain SQL: clearing
        looks up thousands of cards and accounts per batch, and the expression layer would
        render each chunk's list of parameters anew. ``lock`` adds ``ORDER BY key FOR
        UPDATE`` (PostgreSQL); ``named`` as for :func:`on_driver`."""
        head = f"SELECT {', '.join(columns)} FROM {table.name} WHERE {key} IN "
        tail = f" ORDER BY {key} FOR UPDATE" if lock else ""
        rows: list[Any] = []
        for part in chunked(values):
            sql = f"{head}({', '.join(['?'] * len(part))}){tail}"
            rows.extend(on_driver(conn, sql, tuple(part), named=named))
        return rows

    def insert_rows(
        self, conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """See :func:`insert_rows`."""
        insert_rows(conn, table, columns, rows)

    def add_to_columns(
        self, conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """``UPDATE table SET c = c + ?, ... WHERE id = ?`` for many rows given as
        ``(delta_1, ..., delta_n, id)``: relative updates, safe on locked rows."""
        if not rows:
            return
        sets = ", ".join(f"{c} = {c} + ?" for c in columns)
        on_driver_many(conn, f"UPDATE {table.name} SET {sets} WHERE id = ?", rows)

    def lock_key(self, conn: Connection, key: str, *, shared: bool = False) -> None:
        """A transaction-scoped named lock (PostgreSQL advisory lock; SQLite's write lock
        already serialises writers). Shared holders exclude only exclusive ones."""
        if self.is_sqlite:
            return
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        conn.execute(text(f"SELECT {function}(:k)"), {"k": number})

    def dispose(self) -> None:
        self.engine.dispose()


#: the advisory lock every schema change takes on PostgreSQL (any fixed number will do)
_SCHEMA_LOCK = int.from_bytes(hashlib.sha256(b"dualcard schema").digest()[:8], "big",
                              signed=True)


def _add_missing_columns(conn: Connection) -> None:
    add_missing_columns(conn, [metadata.tables[name].c[column]
                               for name, columns in ADDED_COLUMNS.items() for column in columns])


def add_missing_columns(conn: Connection, columns: Iterable[Column[Any]]) -> None:
    """``ALTER TABLE … ADD COLUMN`` for each of ``columns`` (added after databases were made)
    that its existing table lacks, as the table defines it (type, default, nullability):
    SQLite and PostgreSQL both accept it. A table that does not exist yet is left alone."""
    inspector = inspect(conn)
    present: dict[str, set[str]] = {}
    for column in columns:
        name = column.table.name
        if name not in present:
            present[name] = ({c["name"] for c in inspector.get_columns(name)}
                             if inspector.has_table(name) else set())
        if present[name] and column.name not in present[name]:
            spec = CreateColumn(column).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {spec}"))


def on_driver(conn: Connection, statement: str, params: Sequence[Any] = (), *,
              named: bool = True, after: Sequence[tuple[str, Sequence[Any]]] = ()
              ) -> DriverResult:
    """Run ``statement`` (plain SQL with ``?`` marks, each once per request on a hot path)
    on the driver's own cursor: SQLAlchemy's execution machinery (even ``exec_driver_sql``)
    costs several times what the database does for a one-row statement. Rows are read by
    position or by column name (``named=False``: plain tuples, read by position only, for a
    caller that reads 100,000 rows: the cyclic collector stops scanning a plain tuple of
    plain values, never a named one); a driver error is raised as SQLAlchemy would raise it
    (:class:`~sqlalchemy.exc.IntegrityError` for a duplicate key).

    ``after``: statements (and their parameters) run right after it whose results nobody
    reads, on PostgreSQL in the same round trip (a pipeline); the first error among them
    all is raised once all were sent, and the transaction is then failed as after any
    error. The result is ``statement``'s."""
    return _on_cursor(conn, statement, params, many=False, named=named, after=after)


def on_driver_many(conn: Connection, statement: str, rows: Sequence[Sequence[Any]]) -> int:
    """:func:`on_driver` once per row of ``rows`` (the driver's ``executemany``); returns
    the rows changed, all statements together."""
    return _on_cursor(conn, statement, rows, many=True).rowcount


class DriverResult:
    """What :func:`on_driver` returns: the rows (fetched at once, the cursor closed) and the
    row count, with the few ``Result`` methods the hot paths use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rowcount: int, rows: list[Any]) -> None:
        self.rowcount = rowcount
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"{len(self._rows)} rows where exactly one was expected")
        return self._rows[0]


def _on_cursor(conn: Connection, statement: str, params: Any, *, many: bool,
               named: bool = True, after: Sequence[tuple[str, Sequence[Any]]] = ()
               ) -> DriverResult:
    sql = _marked(statement, conn.dialect.paramstyle)
    fairy = conn.connection  # the pooled connection, in the transaction SQLAlchemy began
    info = conn.info
    kept = conn.dialect.name == "postgresql"  # SQLite's own cursors cost next to nothing
    cursor = _cursor_of(info, fairy.dbapi_connection) if kept \
        else fairy.dbapi_connection.cursor()  # type: ignore[union-attr]
    queued = info.get(_QUEUED)
    try:
        if queued or after:  # one round trip: the savepoints opened since the last
            driver = fairy.driver_connection
            pipeline = driver.pipeline() if kept else nullcontext()  # type: ignore[union-attr]
            with pipeline:  # statement, this one and those after it; results read after
                _send_queued_savepoints(conn, cursor)
                _execute(cursor, sql, params, many)
                if after:
                    other = fairy.dbapi_connection.cursor()  # type: ignore[union-attr]
                    for later, values in after:
                        other.execute(_marked(later, conn.dialect.paramstyle), tuple(values))
                    other.close()
        else:
            _execute(cursor, sql, params, many)
        rows: list[Any] = list(cursor.fetchall()) if cursor.description else []
        return DriverResult(cursor.rowcount, _named(cursor.description, rows) if named and rows
                            else rows)
    except conn.dialect.loaded_dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, fairy, cursor):
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from exc
    finally:
        if not kept:
            cursor.close()


def _cursor_of(info: dict[Any, Any], driver: Any) -> Any:
    """The PostgreSQL cursor :func:`_on_cursor` runs its statements on, one per driver
    connection, kept with it (its ``info``, which a pooled connection keeps across
    checkouts; a pooled connection serves one thread at a time): a psycopg cursor costs a
    few microseconds to make, once per statement on a hot path."""
    kept = info.get(_CURSOR)
    if kept is None or kept[0] is not driver:
        kept = info[_CURSOR] = (driver, driver.cursor())
    return kept[1]


def _execute(cursor: Any, sql: str, params: Any, many: bool) -> None:
    if many and len(params) != 1:
        cursor.executemany(sql, params)
    else:  # one row: ``execute`` is the cheaper call
        cursor.execute(sql, tuple(params[0] if many else params))


def _send_queued_savepoints(conn: Connection, cursor: Any, *_: Any) -> None:
    """Before a statement that does not go through :func:`_on_cursor` (SQLAlchemy's own,
    a COPY): the savepoints still queued on its connection (PostgreSQL)."""
    queued = conn.info.get(_QUEUED)
    if queued:
        names, queued[:] = tuple(queued), ()
        for name in names:
            cursor.execute(f"SAVEPOINT {name}")


def _named(description: Sequence[Any], rows: Sequence[Any]) -> list[Any]:
    shape = _row_class(tuple(column[0] for column in description))
    return [shape._make(row) for row in rows]


@pure_cache(maxsize=256)
def _row_class(columns: tuple[str, ...]) -> Any:
    """A named-tuple class per column list: rows read by name as by position."""
    return namedtuple("Row", columns, rename=True)  # type: ignore[misc]


@pure_cache(maxsize=256)
def _marked(statement: str, paramstyle: str) -> str:
    return statement if paramstyle == "qmark" else statement.replace("?", "%s")


def insert_rows(
    conn: Connection, table: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows given as tuples in ``columns`` order (the hot path of clearing;
    values are plain ints, str, bytes, bool or None, which both drivers adapt natively).

    SQLite: one driver-level ``executemany`` of statements that each carry several rows,
    which spares a statement step per row. PostgreSQL: ``COPY ... FROM STDIN``, about half
    the time of one INSERT per row; a failure raises the error an INSERT would
    (:class:`~sqlalchemy.exc.IntegrityError` for a duplicate key). A few rows (one
    authorisation's hold) go in one multi-row INSERT there instead: a COPY takes several
    round trips to the server, an INSERT one."""
    if not rows:
        return
    width, shape = len(columns), (table.name, tuple(columns))
    if conn.dialect.name == "postgresql":
        if len(rows) > _FEW_ROWS:
            _copy_rows(conn, table.name, columns, rows)
        else:
            on_driver(conn, _insert_sql(*shape, len(rows)), tuple(chain.from_iterable(rows)))
        return
    per = max(1, _SQLITE_MAX_PARAMS // width)
    whole = len(rows) - len(rows) % per if per > 1 else 0
    if whole:
        parts = [tuple(chain.from_iterable(rows[at : at + per])) for at in range(0, whole, per)]
        on_driver_many(conn, _insert_sql(*shape, per), parts)
    if whole < len(rows):
        on_driver_many(conn, _insert_sql(*shape, 1), rows[whole:])


def insert_rows_together(
    conn: Connection, parts: Sequence[tuple[Any, Sequence[str], Sequence[Sequence[Any]]]]
) -> None:
    """:func:`insert_rows` for several tables (``(table, columns, rows)`` each, in order).
    On PostgreSQL, when each is a few rows (one authorisation's hold and its row among the
    open holds), all go in one round trip (:func:`on_driver`'s ``after``); a failure
    raises as :func:`insert_rows` would, nothing of the caller's unit kept."""
    parts = [part for part in parts if part[2]]
    if conn.dialect.name != "postgresql" or len(parts) < 2 \
            or any(len(rows) > _FEW_ROWS for _, _, rows in parts):
        for table, columns, rows in parts:
            insert_rows(conn, table, columns, rows)
        return
    (first, *later) = [(_insert_sql(table.name, tuple(columns), len(rows)),
                        tuple(chain.from_iterable(rows))) for table, columns, rows in parts]
    on_driver(conn, *first, after=later)


def _copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """COPY in the caller's transaction, on its own driver connection; a driver error is
    wrapped as SQLAlchemy wraps it for a statement, so callers catch the same errors."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    dbapi_error = conn.dialect.dbapi.Error  # type: ignore[union-attr]
    try:
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            _send_queued_savepoints(conn, cursor)
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
    except dbapi_error as exc:
        raise DBAPIError.instance(statement, None, exc, dbapi_error, dialect=conn.dialect) from exc


@pure_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], row_count: int) -> str:
    one = f"({', '.join(['?'] * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * row_count)}"


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any) -> None:
    """A PostgreSQL connection that rested in the pool for :data:`PING_AFTER_IDLE` seconds
    or more is pinged before use (SQLAlchemy's ``pool_pre_ping``, for rested connections
    only): one that died meanwhile (the server restarted, a firewall dropped it) is
    replaced, so no request meets it. A connection checked in moments ago, which a busy
    service hands from request to request, skips the round trip; if the server went away
    that moment, the request in flight fails as the ones running then do, nothing kept,
    and the pool discards every connection older than the failure. A dead one found here
    discards them all as well (they are as old) and the checkout takes a new one."""
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        raise InvalidatePoolError("the pooled connection did not answer its ping") from exc
    if not alive:
        raise InvalidatePoolError("the pooled connection did not answer its ping")


def _savepoint(driver: Any, statement: str) -> None:
    cursor = driver.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


#: bytes SQLite's log file is cut back to when it starts again (``journal_size_limit``)
LOG_SIZE_LIMIT = 64 * 1024 * 1024


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let us emit BEGIN ourselves (pysqlite's implicit BEGIN is deferred and too late).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        _into_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed batch survives power loss
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: a large batch's index pages
        # Savepoints' and statements' undo records in memory. By default SQLite keeps them
        # in memory up to 64 KiB and then moves them to a temporary file it creates on the
        # spot: one authorisation's savepoints copy about that much (15-17 pages), so one
        # in six or seven made a file, 60-100 us more for its statement (D60).
        cursor.execute("PRAGMA temp_store=MEMORY")
        # a log that grew in a burst is cut back to 64 MiB when it starts again
        cursor.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")
    finally:
        cursor.close()


def _into_wal(cursor: Any) -> None:
    """Put the file in WAL mode, waiting out another process doing the same. Switching a
    new file's journal takes its write lock, and SQLite answers "database is locked" at once
    to a second connection that already read it, without its busy handler: two processes
    opening one new store together would otherwise fail one of them. So the switch is
    retried for as long as the connection's busy timeout."""
    timeout_ms = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.002)


def _sqlite_on_begin(conn: Connection) -> None:
    """BEGIN on the driver (SQLAlchemy's ``exec_driver_sql`` cost 13 of the ~40 us of a write
    that does nothing else); its error raised as SQLAlchemy raises a statement's ("database
    is locked" an :class:`~sqlalchemy.exc.OperationalError`)."""
    statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
    try:
        conn.connection.dbapi_connection.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error,
                                  dialect=conn.dialect) from exc
