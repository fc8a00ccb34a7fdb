"""A simulated dual-chip card: the card-side state plus a runtime per chip.

This is what QA holds in a test: insert/remove it, power-cycle it, tear it,
snapshot it after personalisation and fork it per test, save it as an image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cardlib.card import DualChipCard
from cardlib.memory import Value

from .atr import build_atr
from .image import load_image, save_image
from .runtime import ChipRuntime

__all__ = ["CardSnapshot", "SimulatedCard"]

ATR_CHIP1 = build_atr(b"DUALC1")
ATR_CHIP2 = build_atr(b"DUALC2")


@dataclass(frozen=True)
class CardSnapshot:
    identity: str
    memories: dict[str, dict[str, Value]]
    track1: str
    track2: str


class SimulatedCard:
    """Two chip runtimes over one :class:`DualChipCard`."""

    def __init__(self, card: DualChipCard | None = None) -> None:
        self.card = card or DualChipCard(identity="blank")
        self.chip1 = ChipRuntime(self.card.chip1, ATR_CHIP1)
        self.chip2 = ChipRuntime(self.card.chip2, ATR_CHIP2)
        self.inserted = True

    @property
    def identity(self) -> str:
        return self.card.identity

    def runtimes(self) -> dict[str, ChipRuntime]:
        return {"chip1": self.chip1, "chip2": self.chip2}

    def runtime(self, chip: int | str) -> ChipRuntime:
        key = chip if isinstance(chip, str) else f"chip{chip}"
        try:
            return self.runtimes()[key]
        except KeyError:
            raise ValueError(f"no chip {chip!r} on a dual-chip card (1 or 2)") from None

    # --- physical actions -------------------------------------------------------------
    def power_on(self) -> None:
        for rt in self.runtimes().values():
            rt.power_on()

    def remove(self) -> None:
        """Pull the card out: both chips lose power mid-whatever."""
        self.inserted = False
        for rt in self.runtimes().values():
            rt.power_off()

    def insert(self) -> None:
        self.inserted = True
        self.power_on()

    def tear(self, chip: int | str, after_writes: int) -> None:
        """Cut the chip's power once ``after_writes`` more persistent writes have happened
        (0: as the next write starts, before it takes effect; see :mod:`cardlib.memory`)."""
        self.runtime(chip).chip.memory.arm_tear(after_writes)

    # --- state ------------------------------------------------------------------------
    def snapshot(self) -> CardSnapshot:
        return CardSnapshot(self.card.identity,
                            {role: c.snapshot() for role, c in self.card.chips().items()},
                            self.card.stripe.track1, self.card.stripe.track2)

    def restore(self, snap: CardSnapshot) -> None:
        """Go back to a snapshot (power-cycles both chips)."""
        self.card.identity = snap.identity
        for role, chip in self.card.chips().items():
            chip.load(snap.memories[role])
        self.card.stripe.track1, self.card.stripe.track2 = snap.track1, snap.track2
        self.power_on()

    def fork(self) -> SimulatedCard:
        """An independent copy (personalise once, fork per test)."""
        twin = SimulatedCard()
        twin.restore(self.snapshot())
        return twin

    def save(self, path: str | os.PathLike[str]) -> None:
        save_image(self.card, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SimulatedCard:
        sim = cls(load_image(path))
        sim.power_on()
        return sim
