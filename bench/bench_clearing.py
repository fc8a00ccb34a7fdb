"""Clearing throughput: card transactions verified and posted per second, by batch size.

Each run clears one terminal batch of N card transactions (two thirds points loads that
reward a purchase, one third points spent at the merchant) from up to 10,000 distinct cards.
A load rewards a proven sale, so it comes with the sale's payment record: a batch of N
transactions holds more records than N (the ``records`` column). Every TAC and cryptogram
is verified in software and every record posted in one database transaction. Set-up
(members, agreements, signing the records as the cards would) is outside the timing.

    .venv/bin/python bench/bench_clearing.py            # SQLite, 1k / 10k / 100k
    .venv/bin/python bench/bench_clearing.py --sizes 1000,10000 --runs 5
    .venv/bin/python bench/bench_clearing.py --pg       # also PostgreSQL (see below)
    .venv/bin/python bench/bench_clearing.py --gc-paused  # the program pauses the collector

PostgreSQL: the server ``DUALCARD_BENCH_PG_URL`` names; with ``--pg`` and no URL, a throwaway
cluster like the tests' (:mod:`host.testing.postgres`). Prints the median of the runs for each
size; the figure depends on the machine.

``--gc-paused``: this program pauses the cyclic garbage collector around each clearing call,
as a worker that clears large batches may choose for its own process. Clearing itself never
touches the collector (docs/decisions.md D25); the difference between the two figures is
the collector's full passes over what a batch keeps alive.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from host.backoffice import Agreement, Asset, BackOffice, Member, MemberKind, Ratio, Rounding
from host.backoffice.clearing import ClearingResult
from host.backoffice.database import Database
from host.backoffice.sample_cards import SampleCards, SampleTerminal
from host.backoffice.schema import metadata
from host.backoffice.verifier import SoftwareCardVerifier
from host.records.batch import TerminalBatch

MAX_CARDS = 10_000
TERMINAL = "00000000B001"
START = datetime(2030, 1, 1, 9, tzinfo=UTC)


def _setup(url: str, card_count: int, cards: SampleCards) -> BackOffice:
    card_ids = [f"BENCH{i:06d}" for i in range(card_count)]
    office = BackOffice(url, verifier=SoftwareCardVerifier(cards.key_store(card_ids)))
    office.init(at=START)
    office.add_member(Member("BM1", MemberKind.MERCHANT, "Bench merchant", START,
                             two_way=Ratio(1, 10), terminals=(TERMINAL,)), at=START)
    office.add_agreement(Agreement("BA1", "BM1", "std", Asset.CONSUMPTION_POINTS, 1, 100,
                                   Rounding.DOWN, START), at=START)
    office.add_members([
        Member(f"BC{i:06d}", MemberKind.CONSUMER, "bench", START, card_id=card_id,
               consumer_group="std")
        for i, card_id in enumerate(card_ids)
    ], at=START)
    return office


def _batch(terminal: SampleTerminal, size: int, card_count: int, run: int, at: datetime):
    """Sales first — a payment and the load it earns, two records each — so every spend is
    covered, then spends: ``size`` records in all."""
    sales = (size - size // 3) // 2
    for i in range(sales):
        card, fen = f"BENCH{i % card_count:06d}", (100 + i % 50) * 100
        terminal.load(card, fen // 100, fen, at, payment_ref=terminal.pay(card, fen, at))
    for i in range(size - 2 * sales):
        terminal.spend(f"BENCH{i % min(sales, card_count):06d}", 10, at)
    return terminal.close_batch(f"bench-{size}-{run}")


def _clear(office: BackOffice, batch: TerminalBatch, at: datetime,
           gc_paused: bool) -> tuple[ClearingResult, float, float]:
    """One timed clearing call: its result, wall seconds and this process's CPU seconds
    (steadier than wall time on a shared machine; a PostgreSQL server's work is not in
    it). With ``gc_paused`` the collector is off around it (the program's choice)."""
    if gc_paused:
        gc.disable()
    try:
        began, cpu = time.perf_counter(), time.process_time()
        result = office.clear(batch, at=at)
        return result, time.perf_counter() - began, time.process_time() - cpu
    finally:
        if gc_paused:
            gc.enable()


def measure(url: str, sizes: list[int], runs: int,
            gc_paused: bool = False) -> list[tuple[int, int, float, float, float]]:
    cards = SampleCards("bench")
    card_count = min(max(sizes), MAX_CARDS)
    office = _setup(url, card_count, cards)
    terminal = SampleTerminal(TERMINAL, cards)
    figures = []
    at = START + timedelta(hours=1)
    for size in sizes:
        timings, cpu = [], []
        for run in range(runs):
            batch = _batch(terminal, size, min(size, card_count), run, at)
            result, seconds, cpu_seconds = _clear(office, batch, at, gc_paused)
            timings.append(seconds)
            cpu.append(cpu_seconds)
            if result.status != "created" or result.records != len(batch.records):
                raise SystemExit(f"bench batch not cleared: {result.status}, "
                                 f"{result.records} of {len(batch.records)} records")
        median = statistics.median(timings)
        records = len(batch.records)
        figures.append((size, records, median, records / median, statistics.median(cpu)))
    office.close()
    return figures


def _drop_all(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        metadata.drop_all(conn)
    db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gc-paused", action="store_true",
                        help="pause the garbage collector around each clearing call")
    parser.add_argument("--pg", action="store_true",
                        help="also PostgreSQL: DUALCARD_BENCH_PG_URL, or a throwaway cluster")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    targets = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"))
        pg_url = os.environ.get("DUALCARD_BENCH_PG_URL")
        cluster = None
        if not pg_url and args.pg:
            from host.testing.postgres import postgres_url

            pg_url, cluster = postgres_url()
        if pg_url:
            targets.append(("postgresql", pg_url))
        collector = "collector paused by the program" if args.gc_paused else "collector on"
        print(f"clearing benchmark (median of {args.runs} runs; verify + post; {collector})")
        print(f"{'database':<11} {'txns':>8} {'records':>8} {'seconds':>9} {'records/s':>10} "
              f"{'cpu s':>8}")
        try:
            for name, url in targets:
                if name == "postgresql":
                    _drop_all(url)
                for size, records, seconds, rate, cpu in measure(url, sizes, args.runs,
                                                                 args.gc_paused):
                    print(f"{name:<11} {size:>8} {records:>8} {seconds:>9.3f} {rate:>10,.0f} "
                          f"{cpu:>8.3f}")
                if name == "postgresql":
                    _drop_all(url)
        finally:
            if cluster is not None:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
