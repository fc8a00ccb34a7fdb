"""Fault injection from tests: a friendly API over the simulator's faults.

    def test_pos_survives_a_torn_debit(sim_card, card_faults, chip2):
        card_faults.tear(chip=2, after_writes=1)          # power lost after the 1st write
        card_faults.force_sw(chip=1, ins=0xAE, sw=0x6985)  # GENERATE AC refused once
        card_faults.truncate(chip=2, ins=0x5C, keep=1)     # a one-byte answer
        card_faults.pull()                                 # the card is pulled out now

Every fault applies to the next matching command(s) only (``times``), so a test says
exactly where the card misbehaves. :func:`tear_sweep` runs an action torn at each of
its tear points in turn — before its first persistent write, then right after each
write — the "every command, torn at every write" tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _simulator

if TYPE_CHECKING:
    from simulator.card import SimulatedCard

__all__ = ["CardFaults", "TearOutcome", "tear_sweep"]


class CardFaults:
    """Faults on one simulated card (both chips)."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card

    def _runtime(self, chip: int) -> Any:
        return self.card.runtime(chip)

    def force_sw(self, *, chip: int, sw: int, ins: int | None = None, times: int = 1) -> None:
        """Answer the next ``times`` commands with INS ``ins`` (any: None) with ``sw`` only."""
        if not 0 <= sw <= 0xFFFF:
            raise ValueError(f"status word out of range: {sw:#x}")
        self._add(chip, "ForcedSW", ins, times, sw=sw)

    def truncate(self, *, chip: int, keep: int = 0, ins: int | None = None,
                 times: int = 1) -> None:
        """Run the command, then cut the answer to ``keep`` bytes (0: an empty answer)."""
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self._add(chip, "TruncatedResponse", ins, times, keep=keep)

    def mute(self, *, chip: int, ins: int | None = None, times: int = 1) -> None:
        """Pull the card out when the matching command arrives (no answer, power gone)."""
        self._add(chip, "MuteCard", ins, times)

    def tear(self, *, chip: int, after_writes: int) -> None:
        """Cut the chip's power once ``after_writes`` more persistent writes have happened
        (0: as the next write starts, before it takes effect)."""
        self.card.tear(chip, after_writes)

    def pull(self) -> None:
        """Pull the card out of the reader now: both chips lose power."""
        self.card.remove()

    def insert(self) -> None:
        """Put the card back: both chips power up (uncommitted writes are gone)."""
        self.card.insert()

    def power_cycle(self, chip: int | None = None) -> None:
        """Power off and on again (one chip, or both)."""
        chips = (chip,) if chip is not None else (1, 2)
        for n in chips:
            runtime = self._runtime(n)
            runtime.power_off()
            runtime.power_on()

    def clear(self) -> None:
        """Forget every pending fault and tear."""
        for n in (1, 2):
            runtime = self._runtime(n)
            runtime.faults.clear()
            runtime.chip.memory.disarm_tear()

    def writes(self, chip: int) -> int:
        """Persistent writes of the chip since it was powered on (for choosing tear points)."""
        return int(self._runtime(chip).chip.memory.writes)

    def internal_errors(self, chip: int | None = None) -> list[str]:
        """Unexpected exceptions the chip(s) turned into 6F00."""
        chips = (chip,) if chip is not None else (1, 2)
        return [e for n in chips for e in self._runtime(n).internal_errors]

    def _add(self, chip: int, kind: str, ins: int | None, times: int, **fields: Any) -> None:
        if times < 1:
            raise ValueError("times must be >= 1")
        if ins is not None and not 0 <= ins <= 0xFF:
            raise ValueError(f"INS out of range: {ins:#x}")
        self._runtime(chip).faults.append(_simulator.fault(kind, ins=ins, times=times, **fields))


@dataclass(frozen=True)
class TearOutcome:
    """One run of :func:`tear_sweep`: where power was cut, and the card afterwards."""

    #: the tear point: writes that happened before power was cut (0: before the first)
    after_writes: int
    torn: bool
    card: Any


def tear_sweep(make_card: Callable[[], SimulatedCard], chip: int,
               action: Callable[[SimulatedCard], object], *,
               limit: int = 1000) -> Iterator[TearOutcome]:
    """Run ``action`` on fresh cards, torn at each tear point of ``chip`` in turn: before
    its first persistent write (0), then right after the 1st, 2nd, … write.

    Yields each torn card powered up again (the caller checks its invariants), and
    finally the run that was not torn: the action made fewer writes than the tear
    point. Whatever the action raises because of the tear (the transport's
    ``CardRemovedError``, a host flow's own error) is expected; anything raised on a
    run that was not torn propagates.
    """
    for n in range(limit + 1):
        card = make_card()
        card.tear(chip, n)
        memory = card.runtime(chip).chip.memory
        try:
            action(card)
        except Exception:
            if memory.tear_armed:
                raise
        if memory.tear_armed:  # the action finished before the n-th write
            memory.disarm_tear()
            yield TearOutcome(n, False, card)
            return
        card.power_on()
        yield TearOutcome(n, True, card)
    raise RuntimeError(f"the action still tore after {limit} writes: does it ever finish?")
