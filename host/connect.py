"""Open "the card in reader R" for the CLI and for integrators, whatever R is.

A dual-chip card is one card on a two-slot reader: slot 00 is chip 1, slot 01
is chip 2 (``pcsc:Virtual PCD`` for the virtual reader), or a card image for
the in-process simulator (``sim:card.json``). Every transport comes wrapped for
GET RESPONSE/6Cxx handling and, when asked, for tracing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from apdu_specs.sw import describe

from .transport.base import Transport
from .transport.reader_uri import PCSCAddress, SimAddress, parse_reader_uri
from .transport.t0 import T0Transport
from .transport.trace import HumanTraceWriter, JSONLinesTraceWriter, Tracer, TracingTransport

__all__ = ["CardLink", "open_card", "trace_sinks"]

ENV_READER = "DUALCARD_READER"


@dataclass
class CardLink:
    """Connected transports to the chips of one card, and how to save a simulated one."""

    reader: str
    transports: dict[int, Transport] = field(default_factory=dict)
    #: for ``sim:IMAGE``: writes the image back (after commands that change the card)
    save: Callable[[], None] | None = None
    #: the simulated card object for ``sim:`` readers (QA tooling only)
    simulated: Any = None

    def chip(self, n: int) -> Transport:
        try:
            return self.transports[n]
        except KeyError:
            raise ValueError(f"chip {n} is not open on {self.reader}") from None

    def close(self) -> None:
        for t in self.transports.values():
            t.disconnect()


def trace_sinks(stream: IO[str] | None, fmt: str = "human") -> list[Callable[..., None]]:
    if stream is None:
        return []
    if fmt == "json":
        return [JSONLinesTraceWriter(stream)]
    return [HumanTraceWriter(stream, describe)]


def _wrap(t: Transport, chip: int, reader: str, sinks: list[Callable[..., None]]) -> Transport:
    if sinks:
        t = TracingTransport(t, Tracer(*sinks, chip=f"chip{chip}", reader=reader))
    return T0Transport(t)


@contextmanager
def open_card(reader: str | None = None, *, chips: tuple[int, ...] = (1, 2),
              trace: IO[str] | None = None, trace_format: str = "human",
              save_on_exit: bool = False) -> Iterator[CardLink]:
    """Connect to the given chips of the card in ``reader`` (default: ``$DUALCARD_READER``)."""
    spec = reader or os.environ.get(ENV_READER) or ""
    address = parse_reader_uri(spec) if spec else None
    if address is None:
        raise ValueError("no reader given: use --reader pcsc:NAME or sim:IMAGE "
                         f"(or set {ENV_READER})")
    sinks = trace_sinks(trace, trace_format)
    if isinstance(address, SimAddress):
        link = _open_sim(address, chips, spec, sinks)
    else:
        link = _open_pcsc(address, chips, spec, sinks)
    try:
        for t in link.transports.values():
            t.connect()
        yield link
        if save_on_exit and link.save is not None:
            link.save()
    finally:
        link.close()


def _open_sim(address: SimAddress, chips: tuple[int, ...], spec: str,
              sinks: list[Callable[..., None]]) -> CardLink:
    from .transport.sim import SimTransport, blank_card, open_image

    if address.image is None:
        card = blank_card()
        save = None
    else:
        card = open_image(address.image)
        image = address.image

        def save() -> None:
            card.save(image)

    link = CardLink(spec, save=save, simulated=card)
    for n in chips:
        link.transports[n] = _wrap(SimTransport(card.runtime(n), f"{spec}#chip{n}"), n, spec, sinks)
    return link


def _open_pcsc(address: PCSCAddress, chips: tuple[int, ...], spec: str,
               sinks: list[Callable[..., None]]) -> CardLink:
    from .transport.pcsc import PCSCTransport, list_pcsc_readers
    from .transport.reader_select import select_card_readers, select_reader

    names = list_pcsc_readers()
    link = CardLink(spec)
    if len(chips) == 1:
        name = select_reader(address.selector or None, names, chip=chips[0])
        link.transports[chips[0]] = _wrap(PCSCTransport(name), chips[0], name, sinks)
        return link
    pair = select_card_readers(address.selector or None, names)
    for n in chips:
        link.transports[n] = _wrap(PCSCTransport(pair[n - 1]), n, pair[n - 1], sinks)
    return link
