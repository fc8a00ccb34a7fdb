"""The simulated dual-chip card behind the real pcscd + vpcd stack, pulled out and put back."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from host.cli.main import cli
from host.testing.pcscd import PCSCStack, virtual_reader, wait_for_card, wait_for_removal
from host.transport.base import NoCardError
from host.transport.pcsc import PCSCTransport
from host.transport.t0 import T0Transport
from simulator.blank import new_blank_card
from simulator.card import SimulatedCard
from simulator.vpcd.bridge import serve_card

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(120)]

SELECT_DEFAULT = bytes.fromhex("00A4040000")


@pytest.fixture(scope="module")
def served_card() -> Iterator[tuple[SimulatedCard, PCSCStack]]:
    with virtual_reader() as stack:
        yield from _served(stack)


def _served(stack: PCSCStack) -> Iterator[tuple[SimulatedCard, PCSCStack]]:
    card = new_blank_card("vpcd-e2e")  # issuer security domain selected by default
    stop = threading.Event()
    server = threading.Thread(
        target=serve_card, args=([card.chip1, card.chip2],),
        kwargs={"present": lambda: card.inserted, "stop_event": stop}, daemon=True,
    )
    server.start()
    try:
        wait_for_card(stack.readers[0], atr=card.chip1.atr)
        wait_for_card(stack.readers[1], atr=card.chip2.atr)
        yield card, stack
    finally:
        stop.set()
        server.join(10)
        for reader in stack.readers:
            wait_for_removal(reader)


def test_both_chips_answer_through_pcscd(served_card: tuple[SimulatedCard, PCSCStack]) -> None:
    card, stack = served_card
    for reader, chip in zip(stack.readers, (card.chip1, card.chip2)):
        with PCSCTransport(reader) as transport:
            assert transport.atr == chip.atr
            assert T0Transport(transport).transmit(SELECT_DEFAULT)[-2:] == b"\x90\x00"


def test_the_readers_command_shows_each_cards_atr(
        served_card: tuple[SimulatedCard, PCSCStack]) -> None:
    card, stack = served_card
    result = CliRunner().invoke(cli, ["readers", "--json"])
    assert result.exit_code == 0, result.output
    atrs = {r["name"]: r["atr"] for r in json.loads(result.stdout)["readers"]}
    assert [atrs[reader] for reader in stack.readers] == [
        card.chip1.atr.hex().upper(), card.chip2.atr.hex().upper()]
    human = CliRunner().invoke(cli, ["readers"]).stdout
    assert f"{stack.readers[0]}  ATR {card.chip1.atr.hex().upper()}" in human


def test_pulling_the_card_out_and_back(served_card: tuple[SimulatedCard, PCSCStack]) -> None:
    card, stack = served_card
    card.remove()
    try:
        for reader in stack.readers:
            wait_for_removal(reader)
        with pytest.raises(NoCardError):
            PCSCTransport(stack.readers[0]).connect()
    finally:
        card.insert()
    wait_for_card(stack.readers[0], atr=card.chip1.atr)
    with PCSCTransport(stack.readers[0]) as transport:
        assert T0Transport(transport).transmit(SELECT_DEFAULT)[-2:] == b"\x90\x00"
