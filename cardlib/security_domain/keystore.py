"""The ISD's key sets, their authentication-failure counters and the SCP sequence counter.

Persistent layout inside the ISD's memory view:

- ``keys/KVN`` → ``(algorithm, enc, mac, dek)``: one static key set per key version;
- ``authfail/KVN`` → consecutive failed EXTERNAL AUTHENTICATEs. Every attempt counts
  *before* it is compared, with ``set_now``, as its command's first persistent write:
  neither a failing command's rollback nor a tear can take the count back, and a tear
  before it leaves nothing compared. A success resets it inside its command's transaction;
- ``seq`` → the secure channel sequence counter, also written at once: a challenge
  derived from it must never be handed out twice.

Replacing the initial key set: GP reserves key version FF for the keys a card ships
with. When PUT KEY adds a new key set (P1 = 00) while FF exists, FF is removed in the
same transaction, so the well-known test keys stop working the moment the issuer's
keys are in.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.caches import pure_cache
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.keyset import StaticKeys
from cardlib.memory import MemoryView

from .constants import INITIAL_KVN, TEST_KEY

__all__ = ["KeySet", "KeyStore"]


@dataclass(frozen=True)
class KeySet:
    """A key version number and its three static keys (repr shows KCVs only)."""

    kvn: int
    keys: StaticKeys

    def __repr__(self) -> str:
        return f"KeySet(kvn={self.kvn:02X}, {self.keys!r})"


def _name(kvn: int) -> str:
    return f"{kvn:02X}"


#: the memory keys of each key version's key set and failure counter (read by every
#: INITIALIZE UPDATE and EXTERNAL AUTHENTICATE: formatted once)
_KEYSET_KEYS = tuple("keys/" + _name(kvn) for kvn in range(256))
_AUTHFAIL_KEYS = tuple("authfail/" + _name(kvn) for kvn in range(256))


def _keyset_key(kvn: int) -> str:
    return _KEYSET_KEYS[kvn] if 0 <= kvn <= 0xFF else "keys/" + _name(kvn)


def _authfail_key(kvn: int) -> str:
    return _AUTHFAIL_KEYS[kvn] if 0 <= kvn <= 0xFF else "authfail/" + _name(kvn)


def _keyset_of(stored: tuple[int, tuple[str, bytes, bytes, bytes]]) -> KeySet:
    """A stored key set, decoded once per stored value by the chip that holds it
    (:meth:`MemoryView.decoded`): every INITIALIZE UPDATE reads it, and the key set keeps
    its ciphers."""
    kvn, (algorithm, enc, mac, dek) = stored
    if enc == mac == dek == TEST_KEY:
        return KeySet(kvn, test_keys(Algorithm(algorithm)))
    return KeySet(kvn, StaticKeys(enc, mac, dek, Algorithm(algorithm)))


@pure_cache(maxsize=8)
def test_keys(algorithm: Algorithm) -> StaticKeys:
    """The GP test key 40..4F as ENC, MAC and DEK: public, the same on every blank chip, so
    one key set (and its ciphers) serves them all."""
    return StaticKeys(TEST_KEY, TEST_KEY, TEST_KEY, algorithm)


class KeyStore:
    """Key sets of one security domain, in its persistent memory."""

    def __init__(self, store: MemoryView) -> None:
        self._store = store

    # --- key sets ------------------------------------------------------------------
    def versions(self) -> list[int]:
        return sorted(int(k.split("/", 1)[1], 16) for k in self._store.keys("keys/"))

    def get(self, kvn: int) -> KeySet | None:
        name = _keyset_key(kvn)
        value = self._store.get(name)
        if value is None:
            return None
        return self._store.decoded(name, (kvn, value), _keyset_of)

    def select(self, kvn: int) -> KeySet | None:
        """The key set INITIALIZE UPDATE names; KVN 00 means the first one."""
        if kvn == 0:
            versions = self.versions()
            return self.get(versions[0]) if versions else None
        return self.get(kvn)

    def put(self, keyset: KeySet) -> None:
        k = keyset.keys
        self._store.set(_keyset_key(keyset.kvn), (k.algorithm.value, k.enc, k.mac, k.dek))
        if self.failures(keyset.kvn):
            self._store.set(_authfail_key(keyset.kvn), 0)

    def delete(self, kvn: int) -> None:
        self._store.delete(_keyset_key(kvn))
        self._store.delete(_authfail_key(kvn))

    def add(self, keyset: KeySet) -> None:
        """PUT KEY P1=00: store a new key set, retiring the initial one (FF)."""
        self.put(keyset)
        if keyset.kvn != INITIAL_KVN and self.get(INITIAL_KVN) is not None:
            self.delete(INITIAL_KVN)

    # --- authentication failures --------------------------------------------------------
    def failures(self, kvn: int) -> int:
        return int(self._store.get(_authfail_key(kvn), 0))

    def record_failure(self, kvn: int) -> int:
        """Count one failure now, durably: called *before* the check it pays for."""
        count = min(self.failures(kvn) + 1, 0xFF)
        self._store.set_now(_authfail_key(kvn), count)
        return count

    def restore_failures(self, kvn: int, count: int) -> None:
        """Give back a count recorded for an attempt that compared nothing (refused for its
        form): durably, as the count was written."""
        self._store.set_now(_authfail_key(kvn), count)

    def clear_failures(self, kvn: int) -> None:
        """A success: back to none with the command (a command that does not commit
        leaves the count it recorded). No count is no key, as on a fresh card."""
        if self.failures(kvn):
            self._store.delete(_authfail_key(kvn))

    # --- sequence counter -----------------------------------------------------------------
    @property
    def sequence_counter(self) -> int:
        return int(self._store.get("seq", 0))

    def set_sequence_counter(self, value: int) -> None:
        self._store.set_now("seq", value)
