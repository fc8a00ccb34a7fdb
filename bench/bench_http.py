"""Batch upload over the HTTP door: card records cleared per second, beside clearing in process.

Two back offices with the same alliance (a merchant, its keyed terminal, the bench's
consumers and agreement; SQLite files unless ``--db``): one behind the service host, run
in its own process (``ServiceHost``: uvicorn and the ISO server on one loop), the other
cleared directly in this process. Each run makes one terminal batch of N card records (two
thirds points loads rewarding a purchase, one third points spent, as bench_clearing.py)
and clears *that same batch* both ways: over HTTP by the terminal's link
(``HTTPBackOffice.upload``: the batch's JSON written, signed, sent, read, checked,
verified record by record, posted, the answer signed and checked), and in process
(``BackOffice.clear``: verified and posted). Making the batch is outside the timing.

    .venv/bin/python bench/bench_http.py                        # SQLite, 1k / 10k / 50k
    .venv/bin/python bench/bench_http.py --sizes 10000 --runs 5
    .venv/bin/python bench/bench_http.py --db postgres          # a throwaway cluster

Prints, per size, the median seconds and records per second of both ways, and how the
difference splits: the service reading the batch's JSON into records (timed apart, in
this process) and the rest. Goal: >= 10,000 records/s over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

from sqlalchemy import create_engine, text

from host.backoffice import Agreement, Asset, BackOffice, Member, MemberKind, Ratio, Rounding
from host.backoffice.sample_cards import SampleCards, SampleTerminal
from host.backoffice.verifier import SoftwareCardVerifier
from host.pos.network_link import HTTPBackOffice
from host.records.batch import TerminalBatch, parse_batch
from host.service.api import json_body
from host.service.core import ServiceCore
from host.service.runner import ServiceHost
from host.service.schema import create_service_schema
from host.service.services import AllianceServices
from host.service.terminals import register_terminal
from host.testing.personalise import SAMPLE
from host.testing.postgres import postgres_url

GOAL_PER_SECOND = 10_000
MAX_CARDS = 10_000
TERMINAL = "00000000B001"
START = datetime(2030, 1, 1, 9, tzinfo=UTC)


def _card_ids(count: int) -> list[str]:
    return [f"BENCH{i:06d}" for i in range(count)]


def _office(url: str, cards: SampleCards, card_count: int) -> BackOffice:
    """The bench's alliance on ``url`` (as bench_clearing.py sets it up)."""
    ids = _card_ids(card_count)
    office = BackOffice(url, verifier=SoftwareCardVerifier(cards.key_store(ids)))
    office.init(at=START)
    office.add_member(Member("BM1", MemberKind.MERCHANT, "Bench merchant", START,
                             two_way=Ratio(1, 10), terminals=(TERMINAL,)), at=START)
    office.add_agreement(Agreement("BA1", "BM1", "std", Asset.CONSUMPTION_POINTS, 1, 100,
                                   Rounding.DOWN, START), at=START)
    office.add_members([Member(f"BC{i:06d}", MemberKind.CONSUMER, "bench", START, card_id=c,
                               consumer_group="std") for i, c in enumerate(ids)], at=START)
    return office


def _batch(terminal: SampleTerminal, size: int, card_count: int, name: str,
           at: datetime) -> TerminalBatch:
    sales = (size - size // 3) // 2
    for i in range(sales):
        card, fen = f"BENCH{i % card_count:06d}", (100 + i % 50) * 100
        terminal.load(card, fen // 100, fen, at, payment_ref=terminal.pay(card, fen, at))
    for i in range(size - 2 * sales):
        terminal.spend(f"BENCH{i % min(sales, card_count):06d}", 10, at)
    return terminal.close_batch(name)


# -- the service, in its own process -----------------------------------------------------------


def _serve(url: str, card_count: int, workers: int, pipe: Pipe) -> None:
    cards = SampleCards("bench")
    office = BackOffice(url, verifier=SoftwareCardVerifier(cards.key_store(_card_ids(card_count))))
    services = AllianceServices(office, payment_keys=SAMPLE.payment_keys,
                                points_keys=SAMPLE.purse_keys, bank_id="bank")
    host = ServiceHost(ServiceCore(services), workers=workers)

    async def main() -> None:
        pipe.send((await host.start())["http"])
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await host.stop()
    asyncio.run(main())
    office.close()


def _spawn(url: str, card_count: int, workers: int) -> tuple[multiprocessing.Process, str]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(url, card_count, workers, child), daemon=True)
    process.start()
    host, port = parent.recv()
    return process, f"http://{host}:{port}"


# -- the runs ------------------------------------------------------------------------------------


def _timed(clear: object, batch: TerminalBatch, at: datetime) -> float:
    started = time.perf_counter()
    result = clear(batch, at=at)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    if result.status != "created":
        raise SystemExit(f"bench batch {batch.batch_id} not cleared: {result.status}")
    return elapsed


def _parse_time(batch: TerminalBatch) -> float:
    """Seconds the service spends reading the batch's JSON into records (part of the HTTP
    time, not of the in-process one, whose batch is already records)."""
    body = json.dumps(batch.as_dict(), separators=(",", ":")).encode()
    started = time.perf_counter()
    parse_batch(json_body(body))
    return time.perf_counter() - started


def measure(urls: tuple[str, str], sizes: list[int], runs: int,
            workers: int) -> list[tuple[int, float, float, float]]:
    """Per size: median seconds over HTTP, in process, and of reading the JSON alone."""
    cards = SampleCards("bench")
    card_count = min(max(sizes), MAX_CARDS)
    local = _office(urls[0], cards, card_count)
    served = _office(urls[1], cards, card_count)
    create_service_schema(served.db)
    key = register_terminal(served.db, TERMINAL, at=START).key
    served.close()
    process, base = _spawn(urls[1], card_count, workers)
    link = HTTPBackOffice(base, terminal_id=TERMINAL, key=key, timeout=600, attempts=1)
    terminal, at = SampleTerminal(TERMINAL, cards), START + timedelta(hours=1)
    figures = []
    try:
        for size in sizes:
            over_http, in_process, parsing = [], [], []
            for run in range(runs):
                batch = _batch(terminal, size, min(size, card_count), f"bench-{size}-{run}", at)
                over_http.append(_timed(link.upload, batch, at))
                in_process.append(_timed(local.clear, batch, at))
                parsing.append(_parse_time(batch))
            figures.append((size, statistics.median(over_http), statistics.median(in_process),
                            statistics.median(parsing)))
    finally:
        link.close()
        process.terminate()
        process.join(60)
        local.close()
    return figures


def _fresh_postgres(base: str, names: tuple[str, str]) -> tuple[str, str]:
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in names:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            conn.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    root = base.rsplit("/", 1)[0]
    return f"{root}/{names[0]}", f"{root}/{names[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", default=None, help="'postgres': a throwaway cluster")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.db == "postgres":
            base, cluster = postgres_url()
            urls = _fresh_postgres(base, ("bench_local", "bench_served"))
        else:
            urls = (f"sqlite:///{Path(tmp) / 'local.sqlite3'}",
                    f"sqlite:///{Path(tmp) / 'served.sqlite3'}")
        workers = 1 if urls[0].startswith("sqlite") else 8
        try:
            figures = measure(urls, sizes, args.runs, workers)
        finally:
            if cluster is not None:
                cluster.stop()
    kind = "SQLite" if urls[0].startswith("sqlite") else "PostgreSQL"
    print(f"batch upload over HTTP vs clearing in process ({kind}, median of {args.runs} runs)")
    print(f"{'records':>8} {'HTTP s':>8} {'HTTP rec/s':>11} {'local s':>8} {'local rec/s':>12}"
          f" {'JSON read s':>12} {'rest s':>7}")
    for size, http, local, parse in figures:
        print(f"{size:>8} {http:>8.3f} {size / http:>11,.0f} {local:>8.3f} {size / local:>12,.0f}"
              f" {parse:>12.3f} {http - local - parse:>7.3f}")
    print("(JSON read: the service reading the batch into records; rest: the client writing "
          "it, HTTP, signatures, idempotency)")
    best = max(size / http for size, http, _, _ in figures)
    print(f"goal >= {GOAL_PER_SECOND:,} records/s over HTTP: "
          f"{'met' if best >= GOAL_PER_SECOND else 'missed'} (best {best:,.0f}/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
