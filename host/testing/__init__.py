"""Test tooling for dualcard users: pytest fixtures, fault injection, Hypothesis strategies.

The pytest plugin (:mod:`.plugin`) is registered through the ``pytest11`` entry point,
so an installed dualcard gives every test suite the fixtures. What tests import:

- :class:`CardFaults` and :func:`tear_sweep` (:mod:`.faults`);
- :data:`SAMPLE`, :class:`SampleCard`, :func:`sample_card` (:mod:`.personalise`);
- :func:`simulated_link` (:mod:`.fixtures`), :func:`served_on_vpcd` (:mod:`.vpcd`);
- :mod:`.strategies` (imports Hypothesis; import it from tests only).

Importing this package stays cheap: the plugin loads it in every pytest run.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["SAMPLE", "CardFaults", "SampleCard", "TearOutcome", "sample_card", "served_on_vpcd",
           "simulated_link", "tear_sweep"]

_HOMES = {
    "CardFaults": "faults", "TearOutcome": "faults", "tear_sweep": "faults",
    "SAMPLE": "personalise", "SampleCard": "personalise", "sample_card": "personalise",
    "simulated_link": "fixtures", "served_on_vpcd": "vpcd",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
