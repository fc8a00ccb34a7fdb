"""The test tooling's one door to the simulator (card-side code), imported lazily.

Like :mod:`host.transport.sim` for the in-process transport, this module is the only
place in :mod:`host.testing` that loads ``simulator``: a QA suite pointed at a real
reader (``--dualcard-reader pcsc:…``) never loads card-side code. Everything here
returns or takes :class:`simulator.card.SimulatedCard` objects.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.card import SimulatedCard

__all__ = ["blank_card", "fault", "load_card", "vpcd_bridge"]


def blank_card(identity: str) -> SimulatedCard:
    """Both chips fresh from the factory: an ISD each, GlobalPlatform test keys.

    Simulated chips find the applets to INSTALL through the ``dualcard.applets``
    entry points (payment, purse, and any installed applet distribution).
    """
    from host.transport.sim import blank_card as new_blank

    return new_blank(identity)


def load_card(path: str) -> SimulatedCard:
    from host.transport.sim import open_image

    return open_image(path)


def fault(kind: str, **fields: Any) -> Any:
    """A fault object of :mod:`simulator.faults` (``ForcedSW``, ``TruncatedResponse``…)."""
    faults = importlib.import_module("simulator.faults")
    return getattr(faults, kind)(**fields)


def vpcd_bridge(chip: Any, slot: int) -> Any:
    """A :class:`simulator.vpcd.bridge.VPCDBridge` serving ``chip`` on vpcd slot ``slot``."""
    from simulator.vpcd.bridge import VPCDBridge

    return VPCDBridge(chip, slot=slot)
