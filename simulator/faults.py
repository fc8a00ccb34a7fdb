"""Fault injection for QA: make the card misbehave on purpose, precisely.

Faults test the *host's* robustness (forced status words, truncated or empty
answers, a card pulled out) and the *card's* (tearing: power lost right after
the N-th persistent write, see :mod:`cardlib.memory`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Fault", "ForcedSW", "MuteCard", "TruncatedResponse"]


@dataclass
class Fault:
    """Applies to the next ``times`` commands matching ``ins`` (None: any command)."""

    ins: int | None = None
    times: int = 1

    def matches(self, ins: int) -> bool:
        return self.times > 0 and (self.ins is None or self.ins == ins)


@dataclass
class ForcedSW(Fault):
    """Answer with this status word instead of running the command."""

    sw: int = 0x6F00


@dataclass
class TruncatedResponse(Fault):
    """Run the command, then cut its answer to ``keep`` bytes (0: an empty answer)."""

    keep: int = 1


@dataclass
class MuteCard(Fault):
    """The card is pulled out before answering: no answer at all, power gone."""
