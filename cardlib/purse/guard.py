"""Wrong MACs count against a limit; at the limit the purse application locks for good.

Theory of operation
-------------------
Each wrong MAC2 (load) or MAC1 (purchase) adds one to a counter of consecutive
failures *with an immediate write* before the 9302 is answered: the command itself is
aborted, but the count survives, and tearing the card right after the guess cannot
give the guesser a free try. When the counter reaches the personalised limit the
application is locked with another immediate write; from then on every command that
moves value answers 9303 (reads still work, so the issuer can refund what is left).
A correct MAC resets the counter inside the command's transaction.
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
        """Return if ``received`` is the MAC of ``data``; else count the failure and raise 9302."""
        try:
            scheme.verify(key, data, received, what=what)
        except MACError:
            failures = self.failures + 1
            self._store.set_now("mac/failures", failures)
            if failures >= self.limit:
                self._store.set_now("mac/locked", True)
            raise SWError(SW.PURSE_MAC_INVALID,
                          f"{what} wrong ({failures} of {self.limit})") from None
        if self.failures:
            self._store.set("mac/failures", 0)
