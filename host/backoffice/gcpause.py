"""The cyclic garbage collector held off while one bulk operation builds its objects.

A claim or a sales batch builds hundreds of thousands of transfers, plan rows and states in
one go, none of them in a reference cycle; every 700 new objects the collector would still
scan the young ones, and now and then every object of the process, for cycles there are
none of. Pausing it for the operation (about a fifth of a 100,000-card claim) changes no
result: reference counting frees what the operation drops, and the next collection after
it finds whatever cycles anything else made meanwhile.

The switch is the process's, not the caller's: while a bulk operation runs, other threads
of a service or portal process allocate without cyclic collection too. So only bulk work
pauses it (a sales batch of :data:`BULK` / 2 purchases or more, a claim), never the ledger
itself nor a request-sized operation, and a paused block gives the collector back as it found it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["BULK", "paused_gc"]

#: transfers from which an operation counts as bulk (a request moves a handful)
BULK = 1_000


@contextmanager
def paused_gc(bulk: bool = True) -> Iterator[None]:
    """Hold off the cyclic collector inside the block if ``bulk`` (nested blocks: the
    outermost one turns it back on, and only if it was on)."""
    if not bulk:
        yield
        return
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
