"""Malformed ISO 8583 frames and HTTP requests against a service host over real sockets.

Starts ``dualcard host serve --plain`` (both doors) over the sample alliance in its own
process, then runs :func:`host.qa.host_fuzz.run_campaign`: ``--frames`` malformed frames
and ``--bodies`` malformed HTTP requests, a genuine request every ``--every`` cases.
Prints the answers by response code or status, the connections closed, the genuine
requests answered and the crashes; exits 1 if there was any crash.

Usage: python bench/fuzz_host.py [--frames 100000] [--bodies 100000] [--every 100]
                                 [--seed 0] [--workers 4] [--db URL | --db postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from host.qa.host_fuzz import run_campaign, sample_host
from host.testing.postgres import postgres_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--bodies", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=100, help="a genuine request every N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=4, help="cases in flight at once")
    parser.add_argument("--db", default=None, help="database URL (default: SQLite, temp); "
                                                   "'postgres': a throwaway cluster")
    args = parser.parse_args(argv)
    cluster = None
    if args.db == "postgres":
        args.db, cluster = postgres_url()
    try:
        with tempfile.TemporaryDirectory() as tmp, sample_host(Path(tmp), db_url=args.db) as target:
            started = time.perf_counter()
            tally = run_campaign(target, frames=args.frames, bodies=args.bodies,
                                 every=args.every, seed=args.seed, workers=args.workers,
                                 progress=_progress)
            seconds = time.perf_counter() - started
    finally:
        if cluster is not None:
            cluster.stop()
    print(f"seed {args.seed}, {args.workers} connections at once, {seconds:.0f} s", flush=True)
    print(tally.report())
    return 1 if tally.crashes else 0


def _progress(done: int) -> None:
    if done % 10_000 == 0:
        print(f"... {done} cases", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
