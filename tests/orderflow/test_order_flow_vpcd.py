"""The online order with the holder's card served through pcscd + vpcd: the personal reader
reaches its bound card over PC/SC, and the order is held through the gateway on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from host.reader import BindingClient, CardNotBoundHereError
from host.shop import Checkout, place_order, swipe
from host.shop.store import CATALOGUE
from host.testing.pcscd import virtual_reader, wait_for_card, wait_for_removal
from host.transport.pcsc import PCSCTransport
from host.transport.t0 import T0Transport
from simulator.card import SimulatedCard
from simulator.vpcd.bridge import serve_card
from tests.reader.helpers import AID, READER_B, reader

from .conftest import ADDRESS, PIN, ZPK, Shop

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(120)]


@contextmanager
def _served(card: SimulatedCard) -> Iterator[str]:
    """The card in the virtual reader; the reader's PC/SC name."""
    with virtual_reader() as stack:
        stop = threading.Event()
        server = threading.Thread(target=serve_card, args=([card.chip1, card.chip2],),
                                  kwargs={"present": lambda: card.inserted, "stop_event": stop},
                                  daemon=True)
        server.start()
        try:
            wait_for_card(stack.readers[0], atr=card.chip1.atr)
            yield stack.readers[0]
        finally:
            stop.set()
            server.join(10)
            for name in stack.readers:
                wait_for_removal(name)


def test_an_order_with_the_card_through_pcscd(shop: Shop) -> None:
    with _served(shop.card) as name, PCSCTransport(name) as transport:
        link = BindingClient(T0Transport(transport))
        with pytest.raises(CardNotBoundHereError):
            swipe(reader(READER_B), link, AID, PIN, ZPK)
        card = swipe(shop.reader, BindingClient(T0Transport(transport)), AID, PIN, ZPK)
    checkout = Checkout("WEB-PCSC-1", shop.account, (CATALOGUE["book"],), ADDRESS)
    placed = place_order(shop.terminal, shop.store, "shop-a", checkout, card)
    assert (placed.payment["state"], placed.payment["held"]) == ("held", 8800)
