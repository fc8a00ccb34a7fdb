"""A transport wrapper that counts commands and the time spent below it.

Put it right above the simulator (or the reader) to tell host work from card work: the
time the wrapped transport spends in ``transmit`` is the card's (and the link's); the
rest of a run's wall time is the host's — building APDUs, secure messaging, key
derivation. The clock is injectable so the bookkeeping is testable.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from host.transport.base import Transport, TransportWrapper

__all__ = ["CountingTransport"]


class CountingTransport(TransportWrapper):
    """Counts ``transmit`` calls and accumulates the seconds spent inside the inner one."""

    def __init__(self, inner: Transport, clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(inner)
        self.count = 0
        self.inner_seconds = 0.0
        self._clock = clock

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        start = self._clock()
        try:
            return self.inner.transmit(apdu)
        finally:
            self.inner_seconds += self._clock() - start

    def reset_counters(self) -> None:
        self.count = 0
        self.inner_seconds = 0.0
