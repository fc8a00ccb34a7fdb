"""The physical dual-chip card: chip 1 (consumption/credit), chip 2 (value points), stripe.

One card identity ties the three together: the back office and the POS see one
card, a reader sees two ICCs (two slots), a stripe reader sees two tracks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .chip import Chip

__all__ = ["DualChipCard", "StripeData"]


@dataclass
class StripeData:
    """The encoded tracks on the back (character strings, sentinels and LRC included)."""

    track1: str = ""
    track2: str = ""


@dataclass
class DualChipCard:
    identity: str
    chip1: Chip = field(default_factory=lambda: Chip("chip1"))
    chip2: Chip = field(default_factory=lambda: Chip("chip2"))
    stripe: StripeData = field(default_factory=StripeData)

    def chips(self) -> dict[str, Chip]:
        return {"chip1": self.chip1, "chip2": self.chip2}
