"""In-process transport to a simulated chip — the only door from ``host`` to the simulator.

A POS integrator with a real reader never imports this module, so card-side code
is never loaded in production. Tests and the demo use it to run host code
unchanged against :class:`simulator.card.SimulatedCard`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import CardRemovedError, NoCardError, TransportFailure

if TYPE_CHECKING:
    from simulator.card import SimulatedCard
    from simulator.chip_protocol import ChipLike

__all__ = ["SimTransport", "blank_card", "open_image", "sim_transports"]


class SimTransport:
    """A :class:`~host.transport.base.Transport` over one simulated chip."""

    def __init__(self, chip: ChipLike, name: str = "sim") -> None:
        self._chip = chip
        self.name = name
        self._connected = False

    @property
    def atr(self) -> bytes:
        return self._chip.atr

    def connect(self) -> None:
        if not self._connected:
            self._chip.power_on()
            self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    def reset(self) -> bytes:
        atr = self._chip.reset()
        self._connected = True
        return atr

    def transmit(self, apdu: bytes) -> bytes:
        if not self._connected:
            raise NoCardError(f"{self.name}: not connected")
        try:
            response = self._chip.transmit(apdu if type(apdu) is bytes else bytes(apdu))
        except _card_mute() as exc:
            self._connected = False
            raise CardRemovedError(f"{self.name}: {exc}") from None
        if len(response) < 2:
            raise TransportFailure(f"{self.name}: card answered {len(response)} byte(s), "
                                   "no status word")
        return response

    def __repr__(self) -> str:
        return f"SimTransport({self.name})"


def _card_mute() -> type[Exception]:
    """The simulator's "no answer" error, imported on first use (this module must stay
    importable without card-side code); an import statement per APDU would cost more."""
    global _CARD_MUTE
    if _CARD_MUTE is None:
        from simulator.errors import CardMute

        _CARD_MUTE = CardMute
    return _CARD_MUTE


_CARD_MUTE: type[Exception] | None = None


def sim_transports(card: SimulatedCard) -> tuple[SimTransport, SimTransport]:
    """Transports to chip 1 and chip 2 of one simulated card (a two-slot reader)."""
    return (SimTransport(card.chip1, f"sim:{card.identity}#chip1"),
            SimTransport(card.chip2, f"sim:{card.identity}#chip2"))


def open_image(path: str | os.PathLike[str]) -> SimulatedCard:
    """Load a card image for in-process use."""
    from simulator.card import SimulatedCard

    return SimulatedCard.load(path)


def blank_card(identity: str = "blank", *, suite: str = "AES") -> SimulatedCard:
    """A fresh, unpersonalised simulated card (issuer security domains on both chips).

    ``suite`` (AES, SM4 or TDES) is the algorithm suite of the chips' security domains.
    """
    from simulator.blank import new_blank_card

    return new_blank_card(identity, suite=suite)
