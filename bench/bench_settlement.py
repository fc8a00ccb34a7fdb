"""Settlement-centre throughput: orders held and released, top-ups under contention, payroll.

* **orders**: N orders placed (a hold on the virtual account, the F22 checks) and released by
  the holder (the post, the settlement account's repayment, the top-up check and, every
  few orders, a top-up asked of the simulated bank and posted): each request its own
  transaction as a shop's site would send them, and in batches of 1,000 (a shop's batch
  placed, the scheduler's or a holder's releases). Goal: ≥ 5,000 holds + releases per
  second on SQLite (a hold and a release count as two).
* **contention**: P processes releasing orders of the same two holders at once; every
  release that leaves a settlement account below its threshold asks for a top-up; the
  figure is releases per second and the check that no top-up was paid twice.
* **payroll**: one employer's batch of N lines, all or nothing. Goal: 100,000 lines ≤ 20 s on
  PostgreSQL, linear in size.

    .venv/bin/python bench/bench_settlement.py                 # SQLite, full sizes
    .venv/bin/python bench/bench_settlement.py --scale 0.1     # a tenth of every size
    DUALCARD_BENCH_PG_URL=postgresql+psycopg://... .venv/bin/python bench/bench_settlement.py

Prints the median of the runs beside each goal; the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.backoffice.centre import (
    Condition,
    OrderRequest,
    ReleaseBy,
    SettlementCentre,
    SimulatedBank,
    TierSettings,
)
from host.backoffice.centre.escrow import ReleaseItem
from host.backoffice.centre.holders import open_holder
from host.backoffice.centre.payroll import PayrollLine, register_employee
from host.backoffice.database import Database
from host.backoffice.schema import metadata

T0 = datetime(2030, 3, 1, 9, tzinfo=UTC)
ADDRESS = "1 Bench Road"
HOLDERS = 2


def _drop_all(url: str) -> None:
    db = Database(url)
    with db.engine.begin() as conn:
        metadata.drop_all(conn)
    db.dispose()


def _setup(url: str, holders: int) -> SettlementCentre:
    _drop_all(url)
    office = BackOffice(url)
    office.init(at=T0)
    office.add_members([
        Member("SHOP", MemberKind.MERCHANT, "Shop", T0, two_way=Ratio(1, 10)),
        Member("EMPLOYER", MemberKind.MERCHANT, "Employer", T0, two_way=Ratio(1, 10)),
        *(Member(f"H{i}", MemberKind.CONSUMER, "bench", T0, card_id=f"BC{i:06d}",
                 consumer_group="std") for i in range(holders)),
    ], at=T0)
    centre = SettlementCentre(office.db)
    bank = SimulatedBank(centre.ledger)
    for i in range(min(holders, HOLDERS)):
        bank.open_account(f"BK{i}", deposit=10**12, at=T0)
        centre.open_account(f"H{i}", TierSettings(500_000, 200_000, 10**9),
                            bank_account=f"BK{i}", addresses=[ADDRESS], at=T0)
    return centre


def _orders(centre: SettlementCentre, tag: str, count: int, holder: str = "H0") -> float:
    began = time.perf_counter()
    for i in range(count):
        order_id = f"{tag}-{i}"
        centre.place_order(OrderRequest(order_id, holder, "SHOP", 5_000 + i % 977,
                                        Condition.ACCEPTANCE, ADDRESS, T0 + timedelta(days=30)),
                           at=T0)
        centre.release(order_id, "r", by=ReleaseBy.HOLDER, at=T0)
    return time.perf_counter() - began


def _batched(centre: SettlementCentre, tag: str, count: int, batch: int) -> float:
    began = time.perf_counter()
    for start in range(0, count, batch):
        ids = [f"{tag}-{i}" for i in range(start, min(count, start + batch))]
        centre.place_orders([
            OrderRequest(order_id, f"H{n % HOLDERS}", "SHOP", 5_000 + n % 977,
                         Condition.ACCEPTANCE, ADDRESS, T0 + timedelta(days=30))
            for n, order_id in enumerate(ids)], at=T0)
        centre.release_orders([ReleaseItem(order_id, "r") for order_id in ids],
                              by=ReleaseBy.HOLDER, at=T0)
    return time.perf_counter() - began


def measure_orders(url: str, count: int, runs: int, batch: int) -> float:
    """Holds + releases per second (median of ``runs``), one request per transaction
    (``batch`` 1) or ``batch`` orders placed and then released per transaction."""
    centre = _setup(url, HOLDERS)
    rates = []
    for run in range(runs):
        tag = f"o{batch}-{run}"
        seconds = _orders(centre, tag, count) if batch == 1 else \
            _batched(centre, tag, count, batch)
        rates.append(2 * count / seconds)
    centre.close()
    return statistics.median(rates)


def _contend(url: str, worker: int, count: int) -> None:
    centre = SettlementCentre(url)
    _orders(centre, f"c{worker}", count, holder=f"H{worker % HOLDERS}")
    centre.close()


def measure_contention(url: str, processes: int, count: int) -> tuple[float, int, bool]:
    """Releases per second with ``processes`` at once; top-ups made; none paid twice."""
    centre = _setup(url, HOLDERS)
    workers = [multiprocessing.Process(target=_contend, args=(url, w, count))
               for w in range(processes)]
    began = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - began
    topups = [t for h in range(HOLDERS) for t in centre.topups(f"H{h}")]
    paid = {t.bank_reference for t in topups if t.state == "completed"}
    once = len(paid) == sum(t.state == "completed" for t in topups)
    centre.close()
    return processes * count / elapsed, len(topups), once


def measure_payroll(url: str, size: int, runs: int) -> float:
    """Seconds for one batch of ``size`` lines (median of ``runs``)."""
    employees = min(size, 10_000)
    centre = _setup(url, employees)
    _open_employees(centre, employees)
    timings = []
    for run in range(runs):
        lines = [PayrollLine(n + 1, f"E{n % employees}", 100_000 + n % 5_000)
                 for n in range(size)]
        began = time.perf_counter()
        centre.run_payroll(f"pay-{size}-{run}", "EMPLOYER", lines, at=T0)
        timings.append(time.perf_counter() - began)
    centre.close()
    return statistics.median(timings)


def _open_employees(centre: SettlementCentre, employees: int) -> None:
    """Employees beyond the two bench holders get tiers without a line or a threshold (no
    top-up ever due), registered in one transaction."""
    with centre.db.write() as conn:
        for i in range(employees):
            if i >= HOLDERS:
                open_holder(conn, centre.ledger, f"H{i}", TierSettings(500_000, 0, 0),
                            bank_account=f"BK{i}", addresses=(ADDRESS,), at=T0)
            register_employee(conn, "EMPLOYER", f"E{i}", f"H{i}")


def _report(name: str, figures: Callable[[str], None], targets: list[tuple[str, str]]) -> None:
    for db_name, url in targets:
        print(f"{name:<11} {db_name:<11}", end=" ", flush=True)
        figures(url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every size (0.1: a quick run)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4)
    args = parser.parse_args(argv)
    orders = max(10, int(2_000 * args.scale))
    batched = max(1_000, int(20_000 * args.scale))
    contended = max(10, int(500 * args.scale))
    payroll_sizes = [max(100, int(n * args.scale)) for n in (10_000, 100_000)]
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")]
        pg_url = os.environ.get("DUALCARD_BENCH_PG_URL")
        if pg_url:
            targets.append(("postgresql", pg_url))
        print(f"settlement centre benchmark (median of {args.runs} runs)")
        _report("orders", lambda url: print(
            f"{orders:>7} orders  {measure_orders(url, orders, args.runs, 1):>9,.0f} "
            "holds+releases/s, one request a transaction"), targets)
        _report("orders", lambda url: print(
            f"{batched:>7} orders  {measure_orders(url, batched, args.runs, 1_000):>9,.0f} "
            "holds+releases/s, 1,000 a transaction  (goal >= 5,000/s on SQLite)"), targets)
        _report("contention", lambda url: print(
            "{:>7} releases {:>9,.0f} releases/s  {} top-ups, each paid once: {}".format(
                args.processes * contended,
                *measure_contention(url, args.processes, contended))), targets)
        for size in payroll_sizes:
            _report("payroll", lambda url, size=size: print(
                f"{size:>7} lines  {measure_payroll(url, size, args.runs):>9.2f} s"
                "  (goal 100,000 lines <= 20 s on PostgreSQL)"), targets)
        if pg_url:
            _drop_all(pg_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
