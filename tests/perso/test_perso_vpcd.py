"""One card personalised through the real stack: the simulated card served by vpcd, pcscd in
between, the same `dualcard perso run` command an operator types for a physical reader."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cardlib.content import CardLifeCycle
from host.cli.perso_cmds import perso
from host.testing.pcscd import PCSCStack, virtual_reader, wait_for_card, wait_for_removal
from host.transport.sim import blank_card
from simulator.card import SimulatedCard
from simulator.vpcd.bridge import serve_card

from .perso_helpers import PROFILE

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(180)]

SLOTS = ("Virtual PCD 00 00", "Virtual PCD 00 01")


@pytest.fixture(scope="module")
def stack() -> Iterator[PCSCStack]:
    with virtual_reader() as stack:
        yield stack


@pytest.fixture
def served(stack: PCSCStack) -> Iterator[SimulatedCard]:
    card = blank_card("8860000000000077")
    stop = threading.Event()
    thread = threading.Thread(target=serve_card, args=([card.chip1, card.chip2],),
                              kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    try:
        for slot, chip in zip(SLOTS, (card.chip1, card.chip2)):
            wait_for_card(slot, atr=chip.atr)
        yield card
    finally:
        stop.set()
        thread.join(timeout=10)
        for slot in SLOTS:
            wait_for_removal(slot)


def test_one_card_through_the_virtual_reader(served: SimulatedCard, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    runner = CliRunner()
    assert runner.invoke(perso, ["keys", "new", "--out", str(keys)]).exit_code == 0
    holder = json.dumps({"name": "DOE/JANE", "holder_id": "X-1", "pan": "6222030000000071",
                         "card_id": "8860000000000077"})
    result = runner.invoke(perso, [
        "run", "--reader", "pcsc:Virtual PCD", "--profile", str(PROFILE), "--keys", str(keys),
        "--holder", holder, "--pin-mailer", str(tmp_path / "pins.csv"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verified"] and not data["stripe_written"]  # a PC/SC reader has no encoder
    assert data["apdus"]["total"] == 54
    for runtime in served.runtimes().values():
        assert runtime.chip.content.card_state == CardLifeCycle.SECURED
        assert not runtime.internal_errors
    assert "DOE/JANE" in (tmp_path / "pins.csv").read_text()
