"""Tearing: power is cut right after a write anywhere in personalisation; the next run
finishes the card (resuming, never restarting a finished application) and the card that
comes out works with the PIN that was mailed. A torn run is never reported as issued.

Which write belongs to which command is learnt from an untorn run; every third write of
each chip is torn, plus the first and last writes and every write of PUT KEY and of
SET STATUS (card), on both chips.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from apdu_specs.commands.purse_data import Purse
from cardlib.content import CardLifeCycle
from host.perso import AppPlan, HolderRecord, Personaliser
from host.points.client import PointsClient
from host.transport.base import Transport, TransportError, TransportWrapper
from host.transport.sim import sim_transports
from host.transport.t0 import T0Transport
from simulator.card import SimulatedCard

from .perso_helpers import connect, fresh_card, personaliser, sample_holders

pytestmark = pytest.mark.sim

INS_PUT_KEY, INS_SET_STATUS = 0xD8, 0xF0


class WriteLog(TransportWrapper):
    """Notes, after each command, how many persistent writes the chip has made."""

    def __init__(self, inner: Transport, writes: Callable[[], int],
                 log: list[tuple[bytes, int]]) -> None:
        super().__init__(inner)
        self.writes = writes
        self.log = log

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        self.log.append((bytes(apdu[:4]), self.writes()))
        return response


def _write_map(perso: Personaliser, holder: HolderRecord) -> dict[int, list[tuple[bytes, int]]]:
    plan = perso.plan(holder)
    card = fresh_card(plan.card.card_id)
    logs: dict[int, list[tuple[bytes, int]]] = {1: [], 2: []}
    transports = {}
    for n, inner in enumerate(sim_transports(card), start=1):
        chip = card.runtime(n).chip
        transports[n] = T0Transport(WriteLog(inner, lambda c=chip: c.memory.writes, logs[n]))
        transports[n].connect()
    perso.personalise(plan, transports)
    return logs


def _writes_of(log: list[tuple[bytes, int]], wanted: Callable[[bytes], bool]) -> set[int]:
    """Write numbers made by the commands ``wanted`` picks."""
    out, before = set(), 0
    for header, after in log:
        if wanted(header):
            out |= set(range(before + 1, after + 1))
        before = after
    return out


def _tear_points() -> list[tuple[int, int, str]]:
    perso = personaliser(None)
    logs = _write_map(perso, sample_holders()[0])
    points = []
    for chip, log in logs.items():
        total = log[-1][1]
        put_key = _writes_of(log, lambda h: h[1] == INS_PUT_KEY)
        secure = _writes_of(log, lambda h: h[1] == INS_SET_STATUS and h[2] == 0x80)
        assert put_key and secure and total > 20
        chosen = {1, 2, total // 2, total - 1, total} | set(range(3, total, 3)) | put_key | secure
        for write in sorted(chosen):
            what = "PUT KEY" if write in put_key else "SET STATUS" if write in secure else "write"
            points.append((chip, write, what))
    return points


TEAR_POINTS = _tear_points()


def _applications_left(card: SimulatedCard, apps: tuple[AppPlan, ...]) -> dict[bytes, int]:
    """Life cycle state of each planned application the torn card holds."""
    wanted = {a.spec.aid for a in apps}
    return {r.aid: r.state for rt in card.runtimes().values()
            for r in rt.chip.content.records() if r.aid in wanted}


def _assert_issued_card(card: SimulatedCard, pin: str) -> None:
    for runtime in card.runtimes().values():
        assert runtime.chip.content.card_state == CardLifeCycle.SECURED
        assert not runtime.internal_errors
    purse = PointsClient(connect(card)[2])
    purse.verify_pin(pin)
    assert purse.balance(Purse.CONSUMPTION) == 1000


@pytest.mark.parametrize(("chip", "write", "what"), TEAR_POINTS,
                         ids=[f"chip{c}-w{w}-{x.replace(' ', '_')}" for c, w, x in TEAR_POINTS])
def test_torn_card_is_finished_by_the_next_run(tmp_path: Path, chip: int, write: int,
                                               what: str) -> None:
    perso = personaliser(tmp_path)
    holder = sample_holders()[0]
    plan = perso.plan(holder, pin="381620")
    card = fresh_card(plan.card.card_id)
    transports = connect(card)
    card.tear(chip, write)
    with pytest.raises(TransportError):
        perso.personalise(plan, transports)
    assert not (tmp_path / "pins.csv").exists()  # not issued: no PIN was mailed
    left = _applications_left(card, plan.apps)
    again = perso.plan(holder, pin="502947")
    report = perso.personalise(again, connect(card))
    assert report.verified
    for number, chip_report in report.chips.items():
        # finished applications are kept (with the new PIN), half-done ones are redone
        done = [a.spec.name for a in again.chip_apps(number) if left.get(a.spec.aid) == 0x0F]
        half = [a.spec.name for a in again.chip_apps(number)
                if left.get(a.spec.aid) not in (None, 0x0F)]
        if chip_report.state.secured:
            assert chip_report.kept == [] and chip_report.installed == []
        else:
            assert chip_report.kept == done and chip_report.restarted == half
    _assert_issued_card(card, "502947")
    assert (tmp_path / "pins.csv").read_text().splitlines()[-1].endswith(",502947,current")


def test_the_sample_covers_both_marker_steps() -> None:
    kinds = {(chip, what) for chip, _, what in TEAR_POINTS}
    assert kinds >= {(1, "PUT KEY"), (1, "SET STATUS"), (2, "PUT KEY"), (2, "SET STATUS")}
