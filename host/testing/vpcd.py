"""Serve a simulated card through the real PC/SC stack (pcscd + vpcd) for one test at a time.

vpcd listens on fixed ports (35963 for slot 00, 35964 for slot 01), so two tests — or
two test processes — cannot each have their own virtual reader: :func:`vpcd_lock`
serialises them with an advisory lock on a file every process agrees on.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from host.connect import CardLink
from host.transport.t0 import T0Transport

from . import _simulator
from .pcscd import PCSCStackUnavailable, require_pcsc_stack, wait_for_card, wait_for_removal

if TYPE_CHECKING:
    from simulator.card import SimulatedCard

__all__ = ["LOCK_PATH", "served_on_vpcd", "vpcd_lock"]

LOCK_PATH = Path(os.environ.get("DUALCARD_VPCD_LOCK",
                                Path(tempfile.gettempdir()) / "dualcard-vpcd.lock"))
_POLL = 0.05


@contextmanager
def vpcd_lock(timeout: float = 300.0) -> Iterator[None]:
    """Hold the machine-wide virtual reader lock (waits for whoever has it)."""
    with open(LOCK_PATH, "a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PCSCStackUnavailable(
                        f"the virtual reader stayed busy for {timeout:.0f} s "
                        f"(lock {LOCK_PATH})") from None
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def served_on_vpcd(card: SimulatedCard) -> Iterator[CardLink]:
    """Chip 1 on ``Virtual PCD 00 00``, chip 2 on ``00 01``; PC/SC transports to both.

    Skips the test (fails it under ``CI=true``) when pcscd + vpcd are not available.
    """
    from host.transport.pcsc import PCSCTransport

    stack = require_pcsc_stack()
    with vpcd_lock():
        bridges = [_simulator.vpcd_bridge(card.runtime(n), n - 1) for n in (1, 2)]
        for bridge in bridges:
            bridge.start()
        link = CardLink("pcsc:Virtual PCD", simulated=card)
        try:
            for n, reader in enumerate(stack.readers, start=1):
                wait_for_card(reader, atr=card.runtime(n).atr)
                link.transports[n] = T0Transport(PCSCTransport(reader))
                link.transports[n].connect()
            yield link
        finally:
            link.close()
            for bridge in bridges:
                bridge.stop()
            for reader in stack.readers:
                wait_for_removal(reader)
