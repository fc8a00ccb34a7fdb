"""Wrong MACs count against a limit; at the limit the purse application locks for good.

Theory of operation
-------------------
Every MAC2 (load) or MAC1 (purchase) check *counts first*: one is added to the counter
of consecutive failures with an immediate write before the comparison, right MAC or
wrong, as the first persistent write of the completing command. Power cut before that
write leaves nothing stored and nothing compared; power cut after it keeps the count.
Either way a tear shows a guesser nothing the counter has not paid for, and a right and
a wrong MAC look the same until the counter is up (``tests/unit/test_counter_tearing.py``).

A wrong MAC answers 9302 and the count stays; when it reaches the personalised limit the
application is locked with another immediate write, and from then on every command that
moves value answers 9303 (reads still work, so the issuer can refund what is left). A
right MAC sets the counter back to zero (removes it) *inside the command's transaction*:
the reset commits with the movement. The price: a genuine completion that never commits (torn
after the count, or a wrong-Le answer never collected) leaves one failure counted until
the next genuine movement resets it (docs/decisions-purse.md P6).
"""

from __future__ import annotations

from apdu_specs.crypto.errors import MACError
from apdu_specs.crypto.purse import PurseScheme
from apdu_specs.sw import SW, SWError
from cardlib.memory import MemoryView

__all__ = ["DEFAULT_MAC_TRY_LIMIT", "MACGuard"]

DEFAULT_MAC_TRY_LIMIT = 3


class MACGuard:
    def __init__(self, store: MemoryView) -> None:
        self._store = store

    @property
    def limit(self) -> int:
        return int(self._store.get("mac/limit", DEFAULT_MAC_TRY_LIMIT))

    def set_limit(self, limit: int) -> None:
        if not 1 <= limit <= 15:
            raise SWError(SW.WRONG_DATA, "the MAC try limit must be 1..15")
        self._store.set("mac/limit", limit)

    @property
    def failures(self) -> int:
        return int(self._store.get("mac/failures", 0))

    @property
    def locked(self) -> bool:
        return bool(self._store.get("mac/locked", False))

    def check_unlocked(self) -> None:
        if self.locked:
            raise SWError(SW.PURSE_APPLICATION_LOCKED)

    def verify(self, scheme: PurseScheme, key: bytes, data: bytes, received: bytes,
               what: str) -> None:
        """Count the attempt, then return if ``received`` is the MAC of ``data`` (the count
        goes back to zero with the command) or raise 9302 (the count stays)."""
        failures = self.failures + 1
        self._store.set_now("mac/failures", failures)  # first: a tear from here on keeps it
        try:
            scheme.verify(key, data, received, what=what)
        except MACError:
            if failures >= self.limit:
                self._store.set_now("mac/locked", True)
            raise SWError(SW.PURSE_MAC_INVALID,
                          f"{what} wrong ({failures} of {self.limit})") from None
        self._store.delete("mac/failures")  # none counted: no key, as on a fresh purse
