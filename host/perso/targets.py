"""Where cards come from: fresh simulated images in a directory, or whatever is in a reader.

A target hands out one :class:`CardSlot` per card: the transports to its chips, the stripe
encoder if there is one, and what to do once the card is issued (write its image). A
card that fails leaves nothing behind in a directory target, and is simply taken out of
a reader. Simulated cards are reached only through :mod:`host.transport.sim`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from host.connect import open_card
from host.payment.stripe import StripeTracks
from host.transport.base import Transport
from host.transport.t0 import T0Transport

from .card_run import StripeWriter
from .plan import CardPlan

__all__ = ["CardSlot", "ReaderTarget", "SimImageTarget", "sim_stripe_writer"]


def _nothing() -> None:
    """A slot with nothing to keep."""


@dataclass
class CardSlot:
    """One card, connected."""

    transports: Mapping[int, Transport]
    stripe: StripeWriter | None = None
    image: str | None = None
    #: called once the card is issued (a directory target writes the image then)
    commit: Callable[[], None] = field(default=_nothing)
    #: the simulated card, when it is one (QA tooling: fault injection, inspection)
    simulated: Any = None
    #: the target has just made this card blank: its state is known and is not read first
    fresh: bool = False


def sim_stripe_writer(simulated: Any) -> StripeWriter:
    """The stripe encoder of a simulated card: it records the tracks on the card itself."""

    def write(tracks: StripeTracks) -> None:
        simulated.card.stripe.track1 = tracks.track1
        simulated.card.stripe.track2 = tracks.track2

    return write


class SimImageTarget:
    """A fresh blank simulated card per holder, saved as ``DIR/<card id>.json`` when issued.

    ``wrap`` puts wrappers around each chip's in-process transport (the T=0 handling by
    default; the benchmark adds its counters below it).
    """

    #: every card it gives was made blank a moment ago (see :class:`~.batch.CardTarget`)
    blank_cards = True

    def __init__(self, out_dir: str | os.PathLike[str], suite: str = "AES", *,
                 wrap: Callable[[Transport], Transport] = T0Transport, save: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.suite = suite
        self.wrap = wrap
        self.save = save

    def __repr__(self) -> str:
        return f"SimImageTarget({self.out_dir})"

    def image_path(self, plan: CardPlan) -> Path:
        return self.out_dir / f"{plan.card.card_id}.json"

    def blank(self, identity: str) -> Any:
        """A blank simulated card of the profile's suite."""
        from host.transport.sim import blank_card

        return blank_card(identity, suite=self.suite)

    @contextmanager
    def card(self, plan: CardPlan) -> Iterator[CardSlot]:
        from host.transport.sim import sim_transports

        simulated = self.blank(plan.card.card_id)
        chips = sim_transports(simulated)
        transports = {n: self.wrap(t) for n, t in enumerate(chips, start=1)}
        for transport in transports.values():
            transport.connect()
        path = self.image_path(plan)

        def commit() -> None:
            if self.save:
                simulated.save(path)

        yield CardSlot(transports, sim_stripe_writer(simulated), str(path), commit, simulated,
                       fresh=True)


class ReaderTarget:
    """The card in a reader (``pcsc:…``, or ``sim:IMAGE`` for one image).

    ``before`` runs before each card is connected (ask for the next card); ``after`` runs
    when it is done with, whatever happened (ask to take it out).
    """

    #: a card in a reader may be blank, half done or issued: it is read first
    blank_cards = False

    def __init__(self, reader: str, chips: tuple[int, ...] = (1, 2), *,
                 before: Callable[[CardPlan], None] | None = None,
                 after: Callable[[CardPlan], None] | None = None,
                 trace: IO[str] | None = None, trace_format: str = "human") -> None:
        self.reader = reader
        self.chips = chips
        self.before = before
        self.after = after
        self.trace = trace
        self.trace_format = trace_format

    def __repr__(self) -> str:
        return f"ReaderTarget({self.reader})"

    @contextmanager
    def card(self, plan: CardPlan) -> Iterator[CardSlot]:
        if self.before is not None:
            self.before(plan)
        try:
            with open_card(self.reader, chips=self.chips, trace=self.trace,
                           trace_format=self.trace_format) as link:
                stripe = sim_stripe_writer(link.simulated) if link.simulated is not None else None
                yield CardSlot(dict(link.transports), stripe, None, link.save or _nothing,
                               link.simulated)
        finally:
            if self.after is not None:
                self.after(plan)
