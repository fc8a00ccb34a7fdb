"""Card memory: persistent (EEPROM/flash) with atomic commands, and transient (RAM).

Theory of operation
-------------------
Persistent state is a map from string keys to immutable values (int, bool, str,
bytes, None and tuples of those). The runtime opens a *command transaction*
before dispatching each APDU; every :meth:`PersistentMemory.write` inside it is
journaled and only becomes durable at :meth:`commit`, which is itself one
persistent write. An error (a status word other than success, or any
exception) aborts the journal, so a command commits all its writes or none —
what a Java Card transaction gives, but with real rollback.

The journal is an *undo* journal: a write goes to the live map at once and the
journal keeps the value the key had before the transaction first touched it. Reads
(many per command, against a few writes) are then one dictionary lookup; an abort puts
the old values back, and the committed store (:meth:`snapshot`) is the live map with
the open journals undone.

Applets may nest explicit transactions (:meth:`transaction`): an inner abort
discards only the inner writes. Some state must survive a failing command — a
PIN or MAC try counter decremented before the error is answered — and is
written with :meth:`write_now`, which bypasses the journal.

Listing keys (:meth:`keys`) is answered from a cache per prefix, kept only while the set
of visible keys under it stays the same. Every change of that set — a write that makes a
key appear, a delete that makes one go, an abort or power-up that puts either back —
stamps the key's first path segment (``registry``, ``app``, ``card``…) with a new
*key-set version*; a prefix that names a segment is checked against that segment's
stamp, any other prefix against the latest stamp of all. Values are never cached here,
only which keys exist. A listing the cache cannot answer scans only the keys of the
prefix's directory (``app/``, ``app/A000…/``): the memory keeps which keys each
directory of one or two segments holds.

Tearing: :meth:`arm_tear` names a *tear point* k, counted in persistent writes
(journal entries, immediate writes, commit records) from now: power is lost once
exactly k of them have happened, raising :class:`PowerLoss`. Point 0 cuts power as
the first write starts, before it takes effect — after whatever the command computed
and compared so far, before anything of it is stored; point k ≥ 1 cuts right after
the k-th write, so between the k-th and the (k+1)-th. A tear on a journal entry loses
the command; a tear on the commit keeps it but the terminal never sees the answer.
Either way power-up finds a consistent store. A command that makes fewer writes than
its tear point completes, and the tear stays armed for the writes that follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from apdu_specs.caches import pure_cache

__all__ = ["MemoryView", "PersistentMemory", "PowerLoss", "TransientMemory", "Value"]

Value = Any  # int | bool | str | bytes | None | tuple[Value, ...]
_T = TypeVar("_T")

_IMMUTABLE = (int, bool, str, bytes, type(None))
#: an undo journal's "the key did not exist before"
_ABSENT = object()


class PowerLoss(BaseException):
    """The card lost power in the middle of a command (tear).

    A BaseException so that no applet's ``except Exception`` can swallow it.
    """


_PLAIN = frozenset((int, bool, str, bytes, type(None)))


def _check_value(value: Value) -> Value:
    if type(value) in _PLAIN:  # the usual case, without isinstance over five types
        return value
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, tuple):
        for item in value:
            if type(item) not in _PLAIN:
                _check_value(item)
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    raise TypeError(f"persistent values must be immutable (int, str, bytes, tuple…), "
                    f"got {type(value).__name__}")


@pure_cache(maxsize=4096)
def _directories_of(path: str) -> tuple[str, ...]:
    """The directories of the first one and two segments a key or prefix is in:
    ``app/A1/x/y`` → ``("app/", "app/A1/")``, ``card/state`` → ``("card/",)``."""
    first = path.find("/")
    if first < 0:
        return ()
    second = path.find("/", first + 1)
    if second < 0:
        return (path[:first + 1],)
    return (path[:first + 1], path[:second + 1])


class PersistentMemory:
    """The non-volatile store of one chip."""

    def __init__(self, data: Mapping[str, Value] | None = None) -> None:
        #: what a read sees: the committed store with the open transactions' writes applied.
        #: Never replaced (views keep a reference to it), only changed in place.
        self._live: dict[str, Value] = dict(data or {})
        #: one undo journal per open transaction, innermost last: key → value before
        #: the transaction first wrote it (``_ABSENT`` if it did not exist)
        self._undo: list[dict[str, Value]] = []
        self._tear_at: int | None = None
        self.writes = 0  #: persistent writes since power-up (journal, immediate and commit)
        #: changes whenever the set of visible keys may have changed (see the module doc)
        self._key_version = 0
        #: first path segment → the key-set version of its last change
        self._segment_versions: dict[str, int] = {}
        #: directory → the keys under it, for the directories of the first one and two path
        #: segments (``app/``, ``app/A000…/``): a listing scans only its directory's keys
        self._directories: dict[str, set[str]] = {}
        for key in self._live:
            for directory in _directories_of(key):
                self._directories.setdefault(directory, set()).add(key)
        self._keys_cache: dict[str, tuple[int, tuple[str, ...]]] = {}
        #: name → (stored values, what they decode to): see :meth:`MemoryView.decoded`
        self._decoded: dict[str, tuple[tuple[Value, ...], Any]] = {}

    # --- reads -----------------------------------------------------------------------
    def read(self, key: str, default: Value = None) -> Value:
        return self._live.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self._live

    def keys(self, prefix: str = "") -> list[str]:
        if "/" in prefix:  # every key under the prefix is in the prefix's directories
            version = self._segment_versions.get(prefix.partition("/")[0], 0)
            candidates: Iterable[str] = self._directories.get(_directories_of(prefix)[-1], ())
        else:
            version = self._key_version
            candidates = self._live
        hit = self._keys_cache.get(prefix)
        if hit is not None and hit[0] == version:
            return list(hit[1])
        found = sorted([k for k in candidates if k.startswith(prefix)])
        if len(self._keys_cache) >= 256:
            self._keys_cache.clear()
        self._keys_cache[prefix] = (version, tuple(found))
        return found

    def _appears(self, key: str) -> None:
        """``key`` was not visible and now is."""
        directories = _directories_of(key)
        self._key_version = self._segment_versions[key.partition("/")[0]] = self._key_version + 1
        for directory in directories:
            keys = self._directories.get(directory)
            if keys is None:
                self._directories[directory] = {key}
            else:
                keys.add(key)

    def _vanishes(self, key: str) -> None:
        """``key`` was visible and now is not."""
        self._key_version = self._segment_versions[key.partition("/")[0]] = self._key_version + 1
        for directory in _directories_of(key):
            self._directories[directory].discard(key)

    # --- writes ----------------------------------------------------------------------
    def _count_write(self) -> None:
        self.writes += 1
        if self._tear_at is not None and self.writes >= self._tear_at:
            self._tear()

    def _tear(self) -> None:
        self._tear_at = None
        raise PowerLoss(f"tear after persistent write {self.writes}")

    def _tear_before(self) -> None:
        """Tear point 0: power goes as the next write starts, so it never happens."""
        self._tear_at = None
        raise PowerLoss(f"tear before persistent write {self.writes + 1}")

    def write(self, key: str, value: Value) -> None:
        """Journaled write: visible at once, durable only when the command commits."""
        if type(value) not in _PLAIN:
            value = _check_value(value)
        undo = self._undo
        if not undo:
            self.write_now(key, value)
            return
        if self._tear_at is not None and self.writes >= self._tear_at:
            self._tear_before()
        live = self._live
        old = live.get(key, _ABSENT)
        if old is _ABSENT:
            self._appears(key)
        journal = undo[-1]
        if key not in journal:
            journal[key] = old
        live[key] = value
        self.writes += 1  # _count_write, inlined on the most frequent kind of write
        if self._tear_at is not None and self.writes >= self._tear_at:
            self._tear()

    def delete(self, key: str) -> None:
        if self._tear_at is not None and self.writes >= self._tear_at:
            self._tear_before()
        old = self._live.pop(key, _ABSENT)
        if old is not _ABSENT:
            self._vanishes(key)
        if self._undo:
            self._undo[-1].setdefault(key, old)
        self._count_write()

    def write_now(self, key: str, value: Value) -> None:
        """Durable at once, whatever happens to the command (try counters)."""
        if type(value) not in _PLAIN:
            value = _check_value(value)
        if self._tear_at is not None and self.writes >= self._tear_at:
            self._tear_before()
        live = self._live
        if key not in live:
            self._appears(key)
        live[key] = value
        for journal in self._undo:
            journal.pop(key, None)
        self._count_write()

    # --- transactions ----------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return bool(self._undo)

    def begin(self) -> None:
        self._undo.append({})

    def commit(self) -> None:
        undo = self._undo
        if not undo:
            raise RuntimeError("commit without a transaction")
        if len(undo) == 1 and undo[0] and self._tear_at is not None \
                and self.writes >= self._tear_at:
            self._tear_before()  # the commit record never starts: the command is lost
        journal = undo.pop()
        if undo:  # nested: the enclosing transaction undoes these writes too
            outer = undo[-1]
            for key, old in journal.items():
                if key not in outer:
                    outer[key] = old
            return
        if journal:
            self._count_write()  # the commit record itself

    def _undo_journal(self, journal: dict[str, Value]) -> None:
        live = self._live
        for key, old in journal.items():
            if old is _ABSENT:
                if live.pop(key, _ABSENT) is not _ABSENT:
                    self._vanishes(key)
            else:
                if key not in live:
                    self._appears(key)
                live[key] = old

    def abort(self) -> None:
        if self._undo:
            self._undo_journal(self._undo.pop())

    def abort_all(self) -> None:
        undo = self._undo
        while undo:  # innermost first, so the outermost journal's old values win
            self._undo_journal(undo.pop())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Nested transaction for applets: commits on success, aborts on any exception."""
        self.begin()
        try:
            yield
        except BaseException:
            self.abort()
            raise
        self.commit()

    # --- faults and images -------------------------------------------------------------
    def arm_tear(self, after_writes: int) -> None:
        """Lose power once ``after_writes`` more writes have happened: 0 = as the next write
        starts (it never happens), 1 = right after the next one, and so on."""
        if after_writes < 0:
            raise ValueError("a tear point counts writes from now: 0 or more")
        self._tear_at = self.writes + after_writes

    def disarm_tear(self) -> None:
        self._tear_at = None

    @property
    def tear_armed(self) -> bool:
        return self._tear_at is not None

    def power_up(self) -> None:
        """Anything not committed when power went is gone."""
        self.abort_all()
        self.writes = 0

    def snapshot(self) -> dict[str, Value]:
        """The committed store (values are immutable, so a shallow copy is a deep one)."""
        store = dict(self._live)
        for journal in reversed(self._undo):  # innermost first: the outermost old value wins
            for key, old in journal.items():
                if old is _ABSENT:
                    store.pop(key, None)
                else:
                    store[key] = old
        return store

    def view(self, prefix: str) -> MemoryView:
        return MemoryView(self, prefix)


class MemoryView:
    """A namespace inside a chip's memory (one per applet instance)."""

    __slots__ = ("_live", "_mem", "_prefix")

    def __init__(self, memory: PersistentMemory, prefix: str) -> None:
        self._mem = memory
        self._prefix = prefix if prefix.endswith("/") else prefix + "/"
        #: the memory's live map (never replaced): applets read many values per command,
        #: and this spares each read a call into the memory
        self._live = memory._live

    @property
    def memory(self) -> PersistentMemory:
        return self._mem

    def get(self, key: str, default: Value = None) -> Value:
        return self._live.get(self._prefix + key, default)

    def set(self, key: str, value: Value) -> None:
        self._mem.write(self._prefix + key, value)

    def set_now(self, key: str, value: Value) -> None:
        self._mem.write_now(self._prefix + key, value)

    def delete(self, key: str) -> None:
        self._mem.delete(self._prefix + key)

    def keys(self, prefix: str = "") -> list[str]:
        """Keys of this namespace (those starting with ``prefix`` only, when given)."""
        n = len(self._prefix)
        return [k[n:] for k in self._mem.keys(self._prefix + prefix)]

    def clear(self) -> None:
        for key in self.keys():
            self.delete(key)

    def transaction(self):
        return self._mem.transaction()

    def decoded(self, name: str, stored: tuple[Value, ...],
                decode: Callable[[tuple[Value, ...]], _T]) -> _T:
        """``decode(stored)``, kept by this chip's memory under ``name`` for as long as the
        stored values stay the same (values are immutable: new values are decoded anew).

        For stored values that hold keys (a key set, a payment configuration): what they
        decode to, and the ciphers it keeps, belong to this chip and go with it, where a
        module-level cache would keep every card's keys for the life of the process."""
        entries = self._mem._decoded
        full = self._prefix + name
        hit = entries.get(full)
        if hit is not None and hit[0] == stored:
            return hit[1]  # type: ignore[no-any-return]
        result = decode(stored)
        entries[full] = (stored, result)
        return result


class TransientMemory:
    """RAM of one applet instance: cleared on reset, optionally on deselect."""

    def __init__(self) -> None:
        self.on_reset: dict[str, Any] = {}
        self.on_deselect: dict[str, Any] = {}

    def clear_reset(self) -> None:
        self.on_reset.clear()
        self.on_deselect.clear()

    def clear_deselect(self) -> None:
        self.on_deselect.clear()
