"""Clearing in real processes: killed with SIGKILL at random points and re-run, it loses and
duplicates nothing; several processes clearing at once lose no update (SQLite serialises
writers with BEGIN IMMEDIATE, PostgreSQL with row locks taken in a stable order)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from host.backoffice import TerminalBatch
from host.backoffice.schema import bo_batches, bo_card_records
from tests.backoffice.backoffice_helpers import (
    BAKERY_TERMINAL,
    CARD_COUNT,
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    check_invariants,
    consumer,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _worker(url: str, batch_file: Path, *, announce: bool = False) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "tests.backoffice.clearing_worker", url, str(batch_file),
               T0.isoformat()]
    if announce:
        command.append("--announce")
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _write(batch: TerminalBatch, path: Path) -> Path:
    path.write_text(json.dumps(batch.as_dict()), encoding="utf-8")
    return path


def _loads(alliance: SampleAlliance, terminal: str, batch_id: str, count: int,
           expected: dict[str, int]) -> TerminalBatch:
    term = alliance.terminal(terminal)
    per_yuan = 1 if terminal == TEA_TERMINAL else 2
    for i in range(count):
        n = 1 + i % CARD_COUNT
        points = (1 + i % 7) * per_yuan
        term.load(card(n), points, (1 + i % 7) * 100, T0)
        expected[consumer(n)] = expected.get(consumer(n), 0) + points
    return term.close_batch(batch_id)


def _stored(alliance: SampleAlliance, batch_id: str) -> tuple[int, int]:
    with alliance.office.db.read() as conn:
        batches = conn.execute(
            select(func.count()).select_from(bo_batches).where(bo_batches.c.id == batch_id)
        ).scalar_one()
        records = conn.execute(
            select(func.count()).select_from(bo_card_records)
            .where(bo_card_records.c.batch_id == batch_id)
        ).scalar_one()
    return batches, records


def _points(alliance: SampleAlliance) -> dict[str, int]:
    accounts = alliance.office.ledger.accounts(
        [f"{consumer(n)}:consumption_points" for n in range(1, CARD_COUNT + 1)]
    )
    return {a.id.split(":")[0]: a.balance.posted for a in accounts if a.balance.posted}


def test_killed_mid_clearing_then_rerun_loses_and_duplicates_nothing(
    alliance: SampleAlliance, tmp_path: Path
) -> None:
    expected: dict[str, int] = {}
    batch = _loads(alliance, TEA_TERMINAL, "TEA-KILL", 3_000, expected)
    batch_file = _write(batch, tmp_path / "batch.json")
    url = alliance.office.db.url
    rng = random.Random(20250314)
    outcomes = []
    for attempt in range(4):
        process = _worker(url, batch_file, announce=True)
        try:
            if attempt % 2 == 0:  # somewhere inside the posting transaction
                assert process.stdout is not None
                line = process.stdout.readline()
                assert line.strip() == "posting", line
                time.sleep(rng.uniform(0.0, 0.05))
            else:  # anywhere from start-up on
                time.sleep(rng.uniform(0.05, 0.6))
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)  # reaps it and closes its pipes
        outcome = _stored(alliance, batch.batch_id)
        assert outcome in ((0, 0), (1, len(batch.records)))  # all or nothing
        outcomes.append(outcome)
        check_invariants(alliance.office.db)
        if outcome != (0, 0):
            break  # a kill after the commit: the batch is in, nothing more to interrupt
    assert (0, 0) in outcomes  # at least one kill landed before the commit
    final = _worker(url, batch_file)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert json.loads(out.splitlines()[-1])["status"] in ("created", "exists")
    again = _worker(url, batch_file)
    out, err = again.communicate(timeout=120)
    assert json.loads(out.splitlines()[-1])["status"] == "exists", err
    assert _stored(alliance, batch.batch_id) == (1, len(batch.records))
    assert _points(alliance) == expected
    check_invariants(alliance.office.db, alliance.office.verifier)


def test_processes_clearing_at_once_lose_no_update(
    alliance: SampleAlliance, tmp_path: Path
) -> None:
    expected: dict[str, int] = {}
    files = []
    for i in range(4):
        terminal = TEA_TERMINAL if i % 2 == 0 else BAKERY_TERMINAL
        batch = _loads(alliance, terminal, f"CONC-{i}", 400, expected)
        files.append(_write(batch, tmp_path / f"batch{i}.json"))
    # Two more processes send batches that are already in flight: each must post once.
    files += files[:2]
    url = alliance.office.db.url
    processes = [_worker(url, f) for f in files]
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out.splitlines()[-1])["status"])
    assert sorted(outcomes) == ["created"] * 4 + ["exists"] * 2
    assert _points(alliance) == expected
    for i in range(4):
        assert _stored(alliance, f"CONC-{i}") == (1, 800)  # 400 sales: a payment and its load each
    check_invariants(alliance.office.db, alliance.office.verifier)
