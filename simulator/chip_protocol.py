"""The contract between one simulated chip and whatever carries its APDUs.

The vpcd bridge, the in-process transport and the tests all drive a chip through
this protocol only, so any object with these five members can sit behind a
virtual reader slot.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["ChipLike"]


@runtime_checkable
class ChipLike(Protocol):
    """One ICC as seen from its contacts: power, reset, ATR and APDU exchange."""

    @property
    def atr(self) -> bytes:
        """The answer-to-reset the chip presents (also while unpowered)."""
        ...

    def power_on(self) -> bytes:
        """Cold start; returns the ATR."""
        ...

    def power_off(self) -> None:
        """Cut power: transient state is lost."""
        ...

    def reset(self) -> bytes:
        """Warm reset; returns the ATR."""
        ...

    def transmit(self, apdu: bytes) -> bytes:
        """Process one command APDU; the response always ends in SW1 SW2.

        The only exception is a chip that cannot answer at all (unpowered, torn,
        pulled out): it raises :class:`simulator.errors.CardMute`, which a reader
        reports as a removed card.
        """
        ...
