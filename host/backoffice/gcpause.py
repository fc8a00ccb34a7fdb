"""The cyclic garbage collector held off while one bulk operation builds its objects.

A claim or a sales batch builds hundreds of thousands of transfers, plan rows and states in
one go, none of them in a reference cycle; every 700 new objects the collector would still
scan the young ones, and now and then every object of the process, for cycles there are
none of. Pausing it for the operation (about a fifth of a 100,000-card claim) changes no
result: reference counting frees what the operation drops, and the next collection after
it finds whatever cycles anything else made meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold off the cyclic collector inside the block (nested blocks: the outermost one
    turns it back on, and only if it was on)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
