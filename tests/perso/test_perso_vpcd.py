"""One card personalised through the real stack: the simulated card served by vpcd, pcscd in
between, the same `dualcard perso run` command an operator types for a physical reader."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

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
    assert runner.invoke(perso, ["keys", "new", "--out", str(keys), "--plaintext"]).exit_code == 0
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


def test_a_mistyped_reader_leaves_row_1_for_the_card_in_the_reader(served: SimulatedCard,
                                                                    tmp_path: Path) -> None:
    """The operator's report: a typo in the reader name, then the right name. The typo
    touches no card (exit 3, row 1 pending); the corrected run gives the blank card in the
    reader to row 1's holder — row 2 then meets the same, now issued, card and is refused."""
    keys, holders = tmp_path / "keys.json", tmp_path / "holders.csv"
    runner = CliRunner()
    assert runner.invoke(perso, ["keys", "new", "--out", str(keys), "--plaintext"]).exit_code == 0
    holders.write_text("name,holder_id\nZHANG/WEI,C-1\nLI/NA,C-2\n")
    audit = tmp_path / "audit.jsonl"

    def batch(reader: str) -> Result:
        return runner.invoke(perso, ["batch", "--reader", reader, "--yes", "--profile",
                                     str(PROFILE), "--keys", str(keys), "--input", str(holders),
                                     "--audit", str(audit)])

    typo = batch("pcsc:Virtul PCD")
    assert typo.exit_code == 3, typo.output
    assert "row 1 stays pending" in typo.output
    for runtime in served.runtimes().values():
        assert runtime.chip.content.card_state != CardLifeCycle.SECURED
    fixed = batch("pcsc:Virtual PCD")
    assert fixed.exit_code == 8, fixed.output
    cards = [json.loads(line) for line in audit.read_text().splitlines()]
    attempts = [(c["row"], c["holder_id"], c["result"], c["reached_card"]) for c in cards
                if c["type"] == "card"]
    assert attempts == [(1, "C-1", "pending", False), (1, "C-1", "issued", True),
                        (2, "C-2", "failed", True)]
    assert "already personalised" in cards[-1]["reason"]
    assert (tmp_path / "pin-mailer.csv").read_text().splitlines()[1].split(",")[:3] == \
        ["8860000000000001", "C-1", "ZHANG/WEI"]
