"""In-process APDU rates of the card runtime against vsmartcard's card OS.

Usage: python bench/bench_runtime.py [--runs 7] [--count 20000]

Ours: :class:`simulator.runtime.ChipRuntime` with the benchmark applet
(bench_applet.py): SELECT by AID, and READ BINARY answering 256 bytes.
Baseline in the same run: vsmartcard's ``Iso7816OS.execute()`` on its stock
ISO card (SELECT MF), and on the same card with a 256-byte transparent EF
added through its own API (READ BINARY). Goals: >= 1.5x the baseline for SELECT
and >= 2.5x for the 256-byte read. Median of several runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import baseline_vicc  # beside this script
from bench_applet import READ_256, SELECT, bench_runtime

GOAL_SELECT, GOAL_READ = 1.5, 2.5


def rate(action: Callable[[], object], count: int, runs: int) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(count):
            action()
        out.append(count / (time.perf_counter() - t))
    return statistics.median(out)


def vicc_with_ef() -> object:
    card_os = baseline_vicc.stock_card_os()
    from virtualsmartcard.SmartcardFilesystem import TransparentStructureEF

    mf = card_os.mf
    mf.append(TransparentStructureEF(parent=mf, fid=0x0101, data=bytes(256)))
    answer = card_os.execute(bytes.fromhex("00A4020C020101"))
    if answer[-2:] != b"\x90\x00":
        raise baseline_vicc.BaselineUnavailable(f"SELECT EF answered {answer.hex()}")
    return card_os


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()
    rt = bench_runtime()
    assert rt.transmit(SELECT)[-2:] == b"\x90\x00"
    assert len(rt.transmit(READ_256)) == 258
    ours = {"SELECT": rate(lambda: rt.transmit(SELECT), args.count, args.runs),
            "READ 256": rate(lambda: rt.transmit(READ_256), args.count, args.runs)}
    try:
        stock = baseline_vicc.stock_card_os()
        with_ef = vicc_with_ef()
    except baseline_vicc.BaselineUnavailable as exc:
        print(f"baseline unavailable: {exc}", file=sys.stderr)
        return 2
    read = with_ef.execute(READ_256)
    if len(read) != 258:
        print(f"baseline READ BINARY answered {len(read)} bytes", file=sys.stderr)
        return 2
    base = {"SELECT": rate(lambda: stock.execute(baseline_vicc.SELECT_MF), args.count, args.runs),
            "READ 256": rate(lambda: with_ef.execute(READ_256), args.count, args.runs)}
    print(f"in-process APDU/s, median of {args.runs} runs of {args.count}")
    for name, goal in (("SELECT", GOAL_SELECT), ("READ 256", GOAL_READ)):
        ratio = ours[name] / base[name]
        print(f"  {name:9s} dualcard {ours[name]:9,.0f}/s   vicc {base[name]:9,.0f}/s   "
              f"ratio {ratio:4.2f}x (goal >= {goal}x: {'met' if ratio >= goal else 'MISSED'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
