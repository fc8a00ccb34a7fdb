"""Serve a simulated card through the real PC/SC stack (pcscd + vpcd) for one test at a time.

vpcd listens on fixed ports (35963 for slot 00, 35964 for slot 01), so two tests — or
two test processes — cannot each have their own virtual reader: :func:`vpcd_lock`
(:func:`host.testing.pcscd.virtual_reader_lock`) serialises them with an advisory lock
on a file every process agrees on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from host.connect import CardLink
from host.transport.t0 import T0Transport

from . import _simulator
from .pcscd import LOCK_PATH, require_pcsc_stack, wait_for_card, wait_for_removal
from .pcscd import virtual_reader_lock as vpcd_lock

if TYPE_CHECKING:
    from simulator.card import SimulatedCard

__all__ = ["LOCK_PATH", "served_on_vpcd", "vpcd_lock"]


@contextmanager
def served_on_vpcd(card: SimulatedCard) -> Iterator[CardLink]:
    """Chip 1 on ``Virtual PCD 00 00``, chip 2 on ``00 01``; PC/SC transports to both.

    Skips the test (fails it under ``CI=true``) when pcscd + vpcd are not available.
    """
    from host.transport.pcsc import PCSCTransport

    with vpcd_lock():
        stack = require_pcsc_stack()
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
