"""A dispatcher on a thread of its own, for ``dualcard host serve --notices``: started
before the doors open, stopped after they close (the delivery in hand is finished and
recorded first)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from .dispatcher import Dispatcher

__all__ = ["dispatching"]


@contextlib.contextmanager
def dispatching(dispatcher: Dispatcher | None, *, poll: float = 2.0) -> Iterator[None]:
    """Run ``dispatcher`` in the background for the block (nothing if None)."""
    if dispatcher is None:
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run, args=(stop,), kwargs={"poll": poll},
                              name="dualcard-notices", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        dispatcher.close()
