"""Issue, pay and claim (open, approve, pay) requests killed (SIGKILL) at random moments
and sent again: every purchase, payment and claim is posted exactly once, on SQLite and
PostgreSQL."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from host.backoffice.prepaid.accounts import cny
from host.backoffice.prepaid.schema import pp_cards, pp_claim_lines, pp_movements
from tests.prepaid.prepaid_helpers import HOLDERS, Sample, check_invariants

ROOT = Path(__file__).resolve().parents[2]
COUNT = 12


def _worker(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.prepaid.prepaid_worker", url,
                             str(COUNT)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            text=True)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_requests_killed_and_sent_again_post_once(db_url: str, seed: int) -> None:
    sample = Sample.create(db_url)
    rng = random.Random(seed)
    for _ in range(2):
        worker = _worker(db_url)
        time.sleep(rng.uniform(0.5, 2.5))
        worker.kill()
        worker.wait()
        assert worker.stdout is not None
        worker.stdout.close()
    last = _worker(db_url)
    out, _ = last.communicate(timeout=240)
    assert last.returncode == 0, out
    with sample.office.db.read() as conn:
        cards = conn.execute(select(pp_cards.c.purchase_id, func.count())
                             .group_by(pp_cards.c.purchase_id)).all()
        pays = conn.execute(select(func.count()).select_from(pp_movements)
                            .where(pp_movements.c.kind == "pay")).scalar()
        lines = conn.execute(select(func.count()).select_from(pp_claim_lines)).scalar()
    assert sorted(cards) == sorted((f"buy-{n}", 2) for n in range(COUNT))
    assert pays == COUNT  # 1,000 fen drawn from the first card of each purchase
    assert lines == 2 * COUNT
    paid = sample.prepaid.claim("CLM")
    assert paid["state"] == "paid"
    holders = sum(sample.office.balance(cny(h)).posted for h in HOLDERS)
    assert holders == paid["payout"] == sum(line["principal"] for line in paid["lines"]) > 0
    check_invariants(sample.prepaid)
    sample.office.close()
