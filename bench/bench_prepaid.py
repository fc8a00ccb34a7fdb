"""Prepaid throughput: sub-cards issued with their policies, payments, a claim for one
merchant's live cards, the daily reconciliation, beside the goals.

Each run starts from an empty database: holders and a program are set up (untimed); cards
are issued in sales batches of 1,000 purchases of 12,345.67 CNY under a 5,000 cap (three
cards each, every card insured, one transaction a batch); payments of 1.00 CNY are made one
request and one transaction each, as terminals send them; the reconciliation runs over all
cards; then the claim freezes the first merchant's cards, is approved and is paid. With
``--reconcile-cards`` above ``--cards`` a second merchant's cards fill the database first
(untimed), so the reconciliation sees that many.

    .venv/bin/python bench/bench_prepaid.py                  # SQLite, full size
    .venv/bin/python bench/bench_prepaid.py --scale 0.01     # a quick run (1 % of each size)
    .venv/bin/python bench/bench_prepaid.py --pg --scale 0.1 # on a throwaway PostgreSQL
    DUALCARD_BENCH_PG_URL=postgresql+psycopg://... .venv/bin/python bench/bench_prepaid.py --pg

Prints the median of the runs for each figure beside its goal; figures depend on the
machine. On the 2-core machine, idle, before D55 (docs/decisions.md): issue 12.5 s (8,001
cards/s), claim 10.0 s for 100,002 cards. Since, shared with other benchmarks, as medians
of 5 alternating rounds against the tree before (``bench/compare.py --rounds 5 --
bench/bench_prepaid.py --scale 1 --pays 10000 --reconcile-cards 100000 --runs 1``): issue
13.0 s → 11.1 s (9,008 cards/s), claim 12.2 s → 9.2 s (−24 %), reconciliation of 100,002
cards 0.26 s → 0.22 s. Then on the quiet machine (load average under 1), two runs of the
same command: issue 10.5 s and 9.0 s (9,495 and 11,130 cards/s), claim 7.7 s and 8.5 s,
reconciliation 0.22 s and 0.21 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.backoffice.database import Database
from host.backoffice.prepaid import IssueRequest, PrepaidOffice, Program, ProgramKind, Trigger
from host.backoffice.prepaid.schema import prepaid_metadata
from host.backoffice.schema import metadata

START = datetime(2030, 1, 1, 9, tzinfo=UTC)
PURCHASE, CAP, BATCH = 1_234_567, 500_000, 1_000
CARDS_PER_PURCHASE = 3
#: goals: cards issued per second, seconds for a claim of 100k cards, seconds for the
#: reconciliation of 1M cards (each scaled linearly with the size run)
GOAL_ISSUE_RATE, GOAL_CLAIM_S, GOAL_RECONCILE_S = 5_000, 10.0, 60.0


def _setup(url: str, holders: int) -> PrepaidOffice:
    office = BackOffice(url)
    office.init(at=START)
    office.add_members([
        Member("BM1", MemberKind.MERCHANT, "merchant", START, two_way=Ratio(1, 10)),
        Member("BM2", MemberKind.MERCHANT, "filler", START, two_way=Ratio(1, 10)),
        Member("BI1", MemberKind.INSURER, "insurer", START),
        *(Member(f"H{i:07d}", MemberKind.CONSUMER, "holder", START, card_id=f"PC{i:07d}",
                 consumer_group="std") for i in range(holders)),
    ], at=START)
    prepaid = PrepaidOffice(office.db)
    for program, merchant in (("P1", "BM1"), ("P2", "BM2")):
        prepaid.add_program(Program(program, merchant, ProgramKind.BONUS, CAP, "BI1",
                                    premium_bp=80), at=START)
    return prepaid


def _issue(prepaid: PrepaidOffice, program: str, cards: int, holders: int, tag: str) -> None:
    purchases = -(-cards // CARDS_PER_PURCHASE)
    for first in range(0, purchases, BATCH):
        prepaid.issue_many([
            IssueRequest(f"{tag}-{n}", program, f"H{n % holders:07d}", PURCHASE)
            for n in range(first, min(first + BATCH, purchases))], at=START)


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def one_run(url: str, cards: int, pays: int, reconcile_cards: int) -> dict[str, float]:
    holders = max(1, cards // 30)
    prepaid = _setup(url, holders)
    figures = {"issue": _timed(lambda: _issue(prepaid, "P1", cards, holders, "b"))}
    if reconcile_cards > cards:
        _issue(prepaid, "P2", reconcile_cards - cards, holders, "f")
    at = START + timedelta(hours=1)
    figures["pay"] = _timed(lambda: [
        prepaid.pay(f"pay-{n}", f"H{n % holders:07d}/P1", 100, at=at) for n in range(pays)])
    report: dict[str, object] = {}
    figures["reconcile"] = _timed(lambda: report.update(prepaid.reconcile(date(2030, 1, 1))))
    if not report["ok"]:
        raise SystemExit("bench: the reconciliation found a difference")
    later = START + timedelta(days=1)
    figures["claim"] = _timed(lambda: _claim(prepaid, later))
    prepaid.close()
    return figures


def _claim(prepaid: PrepaidOffice, at: datetime) -> None:
    prepaid.open_claim("claim", "BM1", Trigger.CLOSURE, trigger_at=at, at=at)
    prepaid.review_claim("claim", approve=True, note="bench", at=at)
    prepaid.pay_claim("claim", at=at)


def _drop_all(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        prepaid_metadata.drop_all(conn)
        metadata.drop_all(conn)
    db.dispose()


def _report(name: str, runs: list[dict[str, float]], cards: int, pays: int,
            reconcile_cards: int) -> None:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    issued = -(-cards // CARDS_PER_PURCHASE) * CARDS_PER_PURCHASE
    rows = [
        ("issue (cards + policies)", f"{issued:,} cards", med["issue"],
         f"{issued / med['issue']:,.0f} cards/s", f">= {GOAL_ISSUE_RATE:,} cards/s"),
        ("pay (one request each)", f"{pays:,} payments", med["pay"],
         f"{pays / med['pay']:,.0f} payments/s", "-"),
        ("reconcile (day's end)", f"{max(reconcile_cards, issued):,} cards",
         med["reconcile"], f"{max(reconcile_cards, issued) / med['reconcile']:,.0f} cards/s",
         f"<= {GOAL_RECONCILE_S * max(reconcile_cards, issued) / 1e6:.2f} s"),
        ("claim (open+approve+pay)", f"{issued:,} cards", med["claim"],
         f"{issued / med['claim']:,.0f} cards/s", f"<= {GOAL_CLAIM_S * issued / 1e5:.2f} s"),
    ]
    for what, size, seconds, rate, goal in rows:
        print(f"{name:<11} {what:<26} {size:>17} {seconds:>9.3f} {rate:>20} {goal:>18}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--pays", type=int, default=100_000)
    parser.add_argument("--reconcile-cards", type=int, default=1_000_000)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", action="store_true",
                        help="PostgreSQL: $DUALCARD_BENCH_PG_URL or a throwaway cluster")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    cards, pays, recon = (max(CARDS_PER_PURCHASE, int(n * args.scale))
                          for n in (args.cards, args.pays, args.reconcile_cards))
    print(f"prepaid benchmark (median of {args.runs} runs; goals scaled to the size run)")
    print(f"{'database':<11} {'what':<26} {'size':>17} {'seconds':>9} {'rate':>20} "
          f"{'goal':>18}")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            runs = []
            for run in range(args.runs):
                url = f"sqlite:///{Path(tmp) / f'bench{run}.sqlite3'}"
                runs.append(one_run(url, cards, pays, recon))
            _report("sqlite", runs, cards, pays, recon)
    if args.pg:
        _postgres(args.runs, cards, pays, recon)
    return 0


def _postgres(run_count: int, cards: int, pays: int, recon: int) -> None:
    from host.testing.postgres import postgres_url

    url, cluster = os.environ.get("DUALCARD_BENCH_PG_URL"), None
    if not url:
        url, cluster = postgres_url()
    try:
        runs = []
        for _ in range(run_count):
            _drop_all(url)
            runs.append(one_run(url, cards, pays, recon))
        _drop_all(url)
        _report("postgresql", runs, cards, pays, recon)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
