"""The plugin's fixtures and the fault-injection API."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from host.backoffice import BackOffice, PurseRecord, SoftwareCardVerifier
from host.backoffice.assets import Asset
from host.points import LoadHost, PointsClient, Purse, TransactionInterrupted
from host.testing import CardFaults, sample_card, simulated_link, tear_sweep
from host.testing.backoffice import sample_key_store
from host.transport.base import CardRemovedError, NoCardError, TransportFailure

pytestmark = pytest.mark.sim

PURSE = bytes.fromhex("00A4040007F0000000020101")
BALANCE = bytes.fromhex("805C000204")
TERMINAL = bytes.fromhex("000001000050")
WHEN = dt.datetime(2024, 5, 1, 12, 30)


def _select_purse(transport) -> None:  # type: ignore[no-untyped-def]
    assert transport.transmit(PURSE)[-2:] == b"\x90\x00"


# --- the card ------------------------------------------------------------------------------

def test_the_sample_card_carries_every_application(sim_card) -> None:
    chip1 = {r.aid.hex().upper() for r in sim_card.card.chip1.content.records()}
    chip2 = {r.aid.hex().upper() for r in sim_card.card.chip2.content.records()}
    assert chip1 == {"A000000151000000", "315041592E5359532E4444463031",
                     "325041592E5359532E4444463031", "F0000000010101", "F0000000010102"}
    assert chip2 == {"A000000151000000", "F0000000020101"}


def test_each_test_gets_its_own_fork(sim_card, dualcard_template, chip2, sample_card_data) -> None:
    PointsClient(chip2).load(Purse.BANK, 10, LoadHost(sample_card_data.purse_keys),
                             terminal_id=TERMINAL, when=WHEN)
    assert PointsClient(chip2).balance(Purse.BANK) == 10
    template = simulated_link(dualcard_template.fork()).chip(2)
    assert PointsClient(template).balance(Purse.BANK) == 0


def test_chip_fixtures_are_the_card_links_chips(card_link, chip1, chip2) -> None:
    assert chip1 is card_link.chip(1) and chip2 is card_link.chip(2)
    assert chip1.atr != chip2.atr


def test_a_sample_card_with_other_data(tmp_path: Path) -> None:
    from dataclasses import replace

    from host.testing import SAMPLE

    card = sample_card(replace(SAMPLE, identity="6200009999999999", purse_pin=None))
    assert card.identity == "6200009999999999"
    assert PointsClient(simulated_link(card).chip(2)).card_identity == "6200009999999999"


# --- faults --------------------------------------------------------------------------------

def test_force_sw_answers_the_next_matching_command_only(chip2, card_faults: CardFaults) -> None:
    _select_purse(chip2)
    card_faults.force_sw(chip=2, ins=0x5C, sw=0x6985, times=2)
    assert chip2.transmit(PURSE)[-2:] == b"\x90\x00"  # another INS: untouched
    assert [chip2.transmit(BALANCE) for _ in range(3)] == [
        b"\x69\x85", b"\x69\x85", bytes.fromhex("000000009000")]


def test_truncated_answers(chip2, card_faults: CardFaults) -> None:
    _select_purse(chip2)
    card_faults.truncate(chip=2, ins=0x5C, keep=3)
    assert chip2.transmit(BALANCE) == bytes.fromhex("000000")
    card_faults.truncate(chip=2, ins=0x5C, keep=0)
    with pytest.raises(TransportFailure, match="0 byte"):
        chip2.transmit(BALANCE)


def test_mute_pulls_the_card_at_that_command(chip2, card_faults: CardFaults) -> None:
    _select_purse(chip2)
    card_faults.mute(chip=2, ins=0x5C)
    with pytest.raises(CardRemovedError):
        chip2.transmit(BALANCE)
    with pytest.raises(NoCardError):
        chip2.transmit(BALANCE)
    chip2.connect()
    _select_purse(chip2)
    assert chip2.transmit(BALANCE)[-2:] == b"\x90\x00"


def test_pull_and_insert(sim_card, chip1, chip2, card_faults: CardFaults) -> None:
    card_faults.pull()
    assert not sim_card.inserted
    with pytest.raises(CardRemovedError):
        chip1.transmit(PURSE)
    card_faults.insert()
    chip2.connect()
    _select_purse(chip2)


def test_power_cycle_forgets_the_selection(sim_card, chip2, card_faults: CardFaults) -> None:
    _select_purse(chip2)
    card_faults.power_cycle(chip=2)
    assert sim_card.chip2.selected() == bytes.fromhex("A000000151000000")  # the ISD again


def test_tear_loses_the_command_and_keeps_the_card_consistent(
        sim_card, chip2, card_faults: CardFaults, sample_card_data) -> None:
    points = PointsClient(chip2)
    points.select()
    card_faults.tear(chip=2, after_writes=1)
    with pytest.raises((TransactionInterrupted, CardRemovedError)):
        points.load(Purse.BANK, 10, LoadHost(sample_card_data.purse_keys), terminal_id=TERMINAL,
                    when=WHEN)
    chip2.connect()
    assert PointsClient(chip2).balance(Purse.BANK) == 0


def test_writes_and_clear(sim_card, chip2, card_faults: CardFaults) -> None:
    before = card_faults.writes(chip=2)
    card_faults.tear(chip=2, after_writes=1)
    card_faults.force_sw(chip=2, sw=0x6F00)
    card_faults.clear()
    _select_purse(chip2)
    assert not sim_card.chip2.chip.memory.tear_armed and card_faults.writes(chip=2) >= before


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: f.force_sw(chip=1, sw=0x10000), "status word"),
    (lambda f: f.truncate(chip=1, keep=-1), "keep"),
    (lambda f: f.mute(chip=1, times=0), "times"),
    (lambda f: f.mute(chip=1, ins=0x100), "INS"),
    (lambda f: f.mute(chip=3), "chip"),
])
def test_bad_fault_requests_are_refused(card_faults: CardFaults, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(card_faults)


def _load_five(card) -> None:  # type: ignore[no-untyped-def]
    from host.testing import SAMPLE

    PointsClient(simulated_link(card).chip(2)).load(
        Purse.CONSUMPTION, 5, LoadHost(SAMPLE.purse_keys), terminal_id=TERMINAL, when=WHEN)


def test_tear_sweep_tears_each_write_then_finishes(sim_card) -> None:
    runs = list(tear_sweep(sim_card.fork, chip=2, action=_load_five))
    assert [r.after_writes for r in runs] == list(range(len(runs)))  # 0: before the first write
    assert all(r.torn for r in runs[:-1]) and not runs[-1].torn and len(runs) >= 3
    balances = [PointsClient(simulated_link(r.card).chip(2)).balance(Purse.CONSUMPTION)
                for r in runs]
    assert set(balances[:-1]) <= {0, 5} and balances[-1] == 5


def test_tear_sweep_gives_up_when_the_action_never_gets_through(sim_card) -> None:
    with pytest.raises(RuntimeError, match="still tore after 2 writes"):
        list(tear_sweep(sim_card.fork, chip=2, action=_load_five, limit=2))


def test_tear_sweep_lets_real_errors_through(sim_card) -> None:
    def broken(card) -> None:  # type: ignore[no-untyped-def]
        raise KeyError("a bug in the action, not a tear")

    with pytest.raises(KeyError):
        list(tear_sweep(sim_card.fork, chip=2, action=broken))


# --- internal errors -------------------------------------------------------------------------

def test_internal_errors_fail_the_test_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "test_bug.py").write_text(textwrap.dedent("""
        import pytest

        def test_card_side_bug(sim_card):
            sim_card.chip1.internal_errors.append("chip1: RuntimeError in an applet")

        @pytest.mark.allow_internal_errors
        def test_provoked_on_purpose(sim_card):
            sim_card.chip2.internal_errors.append("chip2: on purpose")

        def test_watching_another_card(fail_on_internal_errors, dualcard_template):
            card = dualcard_template.fork()
            fail_on_internal_errors(card)
            card.chip2.internal_errors.append("chip2: in a card of the test's own")
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, check=False)
    assert "2 failed, 1 passed" in run.stdout, run.stdout + run.stderr
    assert "RuntimeError in an applet" in run.stdout and "in a card of the test's own" in run.stdout


# --- back office -----------------------------------------------------------------------------

def test_the_backoffice_is_ready_and_private(backoffice: BackOffice, tmp_path: Path) -> None:
    assert [m.id for m in backoffice.members()] == ["alliance"]
    assert (tmp_path / "ledger.sqlite3").exists()


def test_the_backoffice_verifies_the_cards_tacs(chip2, sample_card_data) -> None:
    points = PointsClient(chip2)
    record = points.load(Purse.BANK, 250, LoadHost(sample_card_data.purse_keys),
                         terminal_id=TERMINAL, when=WHEN)
    as_uploaded = PurseRecord("r1", "load", record.card_id, Asset.BANK_POINTS, record.amount,
                              record.terminal_id, record.card_seq, WHEN.strftime("%Y%m%d"),
                              WHEN.strftime("%H%M%S"), record.tac, balance_after=250)
    verifier = SoftwareCardVerifier(sample_key_store(sample_card_data))
    assert verifier.verify_purse_tac(as_uploaded)
    forged = PurseRecord("r2", "load", record.card_id, Asset.BANK_POINTS, 2500,
                         record.terminal_id, record.card_seq, WHEN.strftime("%Y%m%d"),
                         WHEN.strftime("%H%M%S"), record.tac, balance_after=2500)
    assert not verifier.verify_purse_tac(forged)


def test_the_fixtures_can_fork_an_image_of_ones_own(dualcard_template, sample_card_data,
                                                    tmp_path: Path) -> None:
    card = dualcard_template.fork()
    PointsClient(simulated_link(card).chip(2)).load(
        Purse.CREDIT, 42, LoadHost(sample_card_data.purse_keys), terminal_id=TERMINAL, when=WHEN)
    card.save(tmp_path / "card.json")
    (tmp_path / "test_image.py").write_text(textwrap.dedent("""
        from host.points import PointsClient, Purse

        def test_the_image_is_the_card(chip2, sim_card):
            assert PointsClient(chip2).balance(Purse.CREDIT) == 42
    """))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "--dualcard-reader", f"sim:{tmp_path / 'card.json'}", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert "1 passed" in run.stdout, run.stdout + run.stderr
