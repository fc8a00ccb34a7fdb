"""The settlement centre worked by four processes at once against one database, some killed
with SIGKILL at random points and run again: no order released twice or lost, no top-up
asked or paid twice, no settlement account above its cap, every asset summing to zero."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from host.backoffice.centre.tables import sc_orders, sc_topups
from tests.backoffice.backoffice_helpers import check_invariants
from tests.backoffice.centre_helpers import CAP, HOLDERS, bank_debited, make_centre
from tests.backoffice.centre_worker import order_amount

REPO = Path(__file__).resolve().parents[2]
WORKERS, ORDERS = 4, 25
pytestmark = pytest.mark.slow


def _start(url: str, worker: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "tests.backoffice.centre_worker", url,
                             str(worker), str(ORDERS)], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_four_processes_killed_and_rerun_lose_and_double_nothing(db_url: str) -> None:
    centre = make_centre(db_url)
    chance = random.Random(os.environ.get("CENTRE_KILL_SEED", "18"))
    running = [_start(db_url, w) for w in range(WORKERS)]
    time.sleep(chance.uniform(0.5, 1.5))
    alive = [p for p in running if p.poll() is None]
    killed = chance.sample(alive, chance.randint(1, len(alive))) if alive else []
    assert killed, "every worker finished before a kill could land"
    for process in killed:
        os.kill(process.pid, signal.SIGKILL)
    for process in running:
        process.communicate(timeout=240)
    again = [_start(db_url, w) for w in range(WORKERS)]
    answers = [process.communicate(timeout=240) for process in again]  # all reaped first
    for process, (out, err) in zip(again, answers, strict=True):
        assert process.returncode == 0 and out.strip() == "done", err[-2000:]
    _check(centre)
    centre.close()


def _check(centre) -> None:  # type: ignore[no-untyped-def]
    check_invariants(centre.db)
    with centre.db.read() as conn:
        states = dict(conn.execute(select(sc_orders.c.state, func.count())
                                   .group_by(sc_orders.c.state)).all())
        waiting = conn.execute(select(func.count()).select_from(sc_topups)
                               .where(sc_topups.c.state == "requested")).scalar_one()
    assert states == {"released": WORKERS * ORDERS}
    total = sum(order_amount(w, i) for w in range(WORKERS) for i in range(ORDERS))
    assert centre.ledger.account("M1:cny").balance.posted == total
    assert waiting == 0
    for holder in HOLDERS:
        completed = sum(t.amount for t in centre.topups(holder) if t.state == "completed")
        assert bank_debited(centre, holder) == completed
        shown = centre.balances(holder)["settlement"]
        assert shown["posted"] <= CAP and shown["pending_in"] == 0
