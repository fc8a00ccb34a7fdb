"""Record a session (``--trace``, JSON Lines or human lines), replay it, diff the answers."""

from host.qa.replay.replayer import Mismatch, ReplayResult, replay_events
from host.qa.replay.trace_file import (
    Event,
    Exchange,
    PowerEvent,
    chip_number,
    load_trace,
    parse_trace,
)
from host.qa.replay.volatile import PRESETS, VolatileRule, VolatileSet, parse_volatile

__all__ = [
    "PRESETS",
    "Event",
    "Exchange",
    "Mismatch",
    "PowerEvent",
    "ReplayResult",
    "VolatileRule",
    "VolatileSet",
    "chip_number",
    "load_trace",
    "parse_trace",
    "parse_volatile",
    "replay_events",
]
