"""Bind, authenticate and pay with the card served through the real pcscd + vpcd stack."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from apdu_specs.payment.ac_type import ACType
from apdu_specs.sw import SW, CardError
from host.reader import BindingClient, CardNotBoundHereError, bind
from host.testing.pcscd import PCSCStack, virtual_reader, wait_for_card, wait_for_removal
from host.transport.pcsc import PCSCTransport
from host.transport.t0 import T0Transport
from simulator.card import SimulatedCard
from simulator.vpcd.bridge import serve_card

from .helpers import AID, ISSUER, READER_B, fresh_card, pay, reader

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SimulatedCard, PCSCStack]]:
    card = fresh_card()
    with virtual_reader() as stack:
        stop = threading.Event()
        server = threading.Thread(target=serve_card, args=([card.chip1, card.chip2],),
                                  kwargs={"present": lambda: card.inserted, "stop_event": stop},
                                  daemon=True)
        server.start()
        try:
            wait_for_card(stack.readers[0], atr=card.chip1.atr)
            yield card, stack
        finally:
            stop.set()
            server.join(10)
            for name in stack.readers:
                wait_for_removal(name)


def test_bind_authenticate_and_pay_through_pcscd(served: tuple[SimulatedCard, PCSCStack]) -> None:
    _, stack = served
    mine = reader()
    with PCSCTransport(stack.readers[0]) as transport:
        bind(BindingClient(T0Transport(transport)), AID, ISSUER, mine)
    with PCSCTransport(stack.readers[0]) as transport:
        plain = BindingClient(T0Transport(transport))
        plain.select(AID)
        with pytest.raises(CardError) as refused:
            pay(plain)
        assert refused.value.sw == SW.SECURITY_STATUS_NOT_SATISFIED
        stranger = reader(READER_B)
        stranger.keys.keys[plain.identity().card_id] = bytes(16)
        with pytest.raises(CardNotBoundHereError):  # the card answers 6A88
            stranger.open(plain, AID)
        opened = BindingClient(T0Transport(transport))
        mine.open(opened, AID)
        assert pay(opened) is ACType.ARQC
