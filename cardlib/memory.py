"""Card memory: persistent (EEPROM/flash) with atomic commands, and transient (RAM).

Theory of operation
-------------------
Persistent state is a map from string keys to immutable values (int, bool, str,
bytes, None and tuples of those). The runtime opens a *command transaction*
before dispatching each APDU; every :meth:`PersistentMemory.write` inside it is
journaled and only reaches the store at :meth:`commit`, which is itself one
persistent write. An error (a status word other than success, or any
exception) aborts the journal, so a command commits all its writes or none —
what a Java Card transaction gives, but with real rollback.

Applets may nest explicit transactions (:meth:`transaction`): an inner abort
discards only the inner writes. Some state must survive a failing command — a
PIN or MAC try counter decremented before the error is answered — and is
written with :meth:`write_now`, which bypasses the journal.

Listing keys (:meth:`keys`) is answered from a cache per prefix, kept only while the set
of visible keys under it stays the same. Every change of that set — a write that makes a
key appear, a delete, an abort or power-up that drops journaled writes — stamps the
key's first path segment (``registry``, ``app``, ``card``…) with a new *key-set
version*; a prefix that names a segment is checked against that segment's stamp, any
other prefix against the latest stamp of all. Values are never cached here, only which
keys exist.

Tearing: :meth:`arm_tear` makes the N-th persistent write (journal entry,
immediate write or commit) raise :class:`PowerLoss` *after* it has happened. A
tear on a journal entry loses the command; a tear on the commit keeps it but the
terminal never sees the answer. Either way power-up finds a consistent store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["MemoryView", "PersistentMemory", "PowerLoss", "TransientMemory", "Value"]

Value = Any  # int | bool | str | bytes | None | tuple[Value, ...]

_IMMUTABLE = (int, bool, str, bytes, type(None))
_DELETED = object()


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


class PersistentMemory:
    """The non-volatile store of one chip."""

    def __init__(self, data: Mapping[str, Value] | None = None) -> None:
        self._store: dict[str, Value] = dict(data or {})
        self._journals: list[dict[str, Value]] = []
        self._tear_at: int | None = None
        self.writes = 0  #: persistent writes since power-up (journal, immediate and commit)
        #: changes whenever the set of visible keys may have changed (see the module doc)
        self._key_version = 0
        #: first path segment → the key-set version of its last change
        self._segment_versions: dict[str, int] = {}
        #: a delete sits in an open journal (keys of the store may be hidden)
        self._journaled_delete = False
        self._keys_cache: dict[str, tuple[int, tuple[str, ...]]] = {}

    # --- reads -----------------------------------------------------------------------
    def read(self, key: str, default: Value = None) -> Value:
        journals = self._journals
        if journals:
            for journal in reversed(journals) if len(journals) > 1 else journals:
                if key in journal:
                    value = journal[key]
                    return default if value is _DELETED else value
        return self._store.get(key, default)

    def __contains__(self, key: str) -> bool:
        return self.read(key, _DELETED) is not _DELETED

    def keys(self, prefix: str = "") -> list[str]:
        if "/" in prefix:
            version = self._segment_versions.get(prefix.partition("/")[0], 0)
        else:
            version = self._key_version
        hit = self._keys_cache.get(prefix)
        if hit is not None and hit[0] == version:
            return list(hit[1])
        merged = set(k for k in self._store if k.startswith(prefix))
        for journal in self._journals:
            for k, v in journal.items():
                if k.startswith(prefix):
                    if v is _DELETED:
                        merged.discard(k)
                    else:
                        merged.add(k)
        found = sorted(merged)
        if len(self._keys_cache) >= 256:
            self._keys_cache.clear()
        self._keys_cache[prefix] = (version, tuple(found))
        return found

    def _key_set_changes(self, key: str) -> None:
        self._key_version += 1
        self._segment_versions[key.partition("/")[0]] = self._key_version

    def _journals_dropped(self, journals: list[dict[str, Value]]) -> None:
        for journal in journals:
            for key in journal:
                self._key_set_changes(key)

    def _appears(self, key: str) -> None:
        """Called before ``key`` is written: a key not visible until now changes the set.

        A key in the committed store or already written in the open journal is visible
        unless a delete is journaled (``_journaled_delete``), which is rare: then any write
        counts. Any other key may be new.
        """
        if self._journaled_delete or (key not in self._store
                                      and not (self._journals and key in self._journals[-1])):
            self._key_set_changes(key)

    # --- writes ----------------------------------------------------------------------
    def _count_write(self) -> None:
        self.writes += 1
        if self._tear_at is not None and self.writes >= self._tear_at:
            self._tear_at = None
            raise PowerLoss(f"tear after persistent write {self.writes}")

    def write(self, key: str, value: Value) -> None:
        """Journaled write: visible at once, durable only when the command commits."""
        value = _check_value(value)
        if not self._journals:
            self.write_now(key, value)
            return
        self._appears(key)
        self._journals[-1][key] = value
        self._count_write()

    def delete(self, key: str) -> None:
        self._key_set_changes(key)
        if not self._journals:
            self._store.pop(key, None)
            self._count_write()
            return
        self._journals[-1][key] = _DELETED
        self._journaled_delete = True
        self._count_write()

    def write_now(self, key: str, value: Value) -> None:
        """Durable at once, whatever happens to the command (try counters)."""
        value = _check_value(value)
        self._appears(key)
        self._store[key] = value
        for journal in self._journals:
            journal.pop(key, None)
        self._count_write()

    # --- transactions ----------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return bool(self._journals)

    def begin(self) -> None:
        self._journals.append({})

    def commit(self) -> None:
        if not self._journals:
            raise RuntimeError("commit without a transaction")
        journal = self._journals.pop()
        if self._journals:  # nested: merge into the enclosing transaction
            self._journals[-1].update(journal)
            return
        self._journaled_delete = False
        if not journal:
            return
        for key, value in journal.items():
            if value is _DELETED:
                self._store.pop(key, None)
            else:
                self._store[key] = value
        self._count_write()  # the commit record itself

    def abort(self) -> None:
        if self._journals:
            self._journals_dropped([self._journals.pop()])
        if not self._journals:
            self._journaled_delete = False

    def abort_all(self) -> None:
        self._journals_dropped(self._journals)
        self._journals.clear()
        self._journaled_delete = False

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
        """Lose power right after the ``after_writes``-th write from now (1 = the next)."""
        if after_writes < 1:
            raise ValueError("a tear needs at least one write to happen after")
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
        return dict(self._store)

    def view(self, prefix: str) -> MemoryView:
        return MemoryView(self, prefix)


class MemoryView:
    """A namespace inside a chip's memory (one per applet instance)."""

    __slots__ = ("_mem", "_prefix")

    def __init__(self, memory: PersistentMemory, prefix: str) -> None:
        self._mem = memory
        self._prefix = prefix if prefix.endswith("/") else prefix + "/"

    @property
    def memory(self) -> PersistentMemory:
        return self._mem

    def get(self, key: str, default: Value = None) -> Value:
        return self._mem.read(self._prefix + key, default)

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
