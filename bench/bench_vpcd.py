"""APDU and reset rates through the real PC/SC stack: pyscard -> pcscd -> vpcd -> bridge.

Prerequisites (Debian, as root; pcscd is started for the run if it is not running):

    apt-get install pcscd vsmartcard-vpcd vsmartcard-vpicc python3-virtualsmartcard
    pip install -e '.[pcsc]'

Usage: python bench/bench_vpcd.py [--runs 5] [--count 3000] [--no-baseline]

Ours is the card runtime with the benchmark applet (bench_applet.py). Prints the
median of several runs for: a SELECT by AID, a 256-byte READ BINARY
answered in one response, the same read through 61xx + GET RESPONSE, card resets
(SCardReconnect with SCARD_RESET_CARD), and the chip called in process. The
baseline in the same run is vsmartcard's own emulator (see baseline_vicc.py)
through the same pcscd, and its card OS's ``execute()`` in process. Goals:
>= 250x the baseline APDU rate through pcscd, and >= 2,000 resets/s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import baseline_vicc  # beside this script
from bench_applet import READ_256, bench_runtime
from bench_applet import SELECT as SELECT_AID

from host.testing.pcscd import (
    PCSCStack,
    PCSCStackUnavailable,
    ensure_pcsc_stack,
    virtual_reader_lock,
    wait_for_card,
    wait_for_removal,
)
from host.transport.pcsc import PCSCTransport
from host.transport.t0 import T0Transport
from simulator.vpcd.bridge import DEFAULT_BASE_PORT, VPCDBridge

READ_256_NO_LE = READ_256[:4]  # Le absent: the card answers 6100, then GET RESPONSE
GOAL_RATIO = 250.0
GOAL_RESETS = 2000.0


def median_rate(action: Callable[[], object], count: int, runs: int) -> float:
    """Median over ``runs`` of ``count`` calls per second."""
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(count):
            action()
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def checked(transport: PCSCTransport | T0Transport, apdu: bytes, size: int) -> Callable[[], None]:
    """An action sending ``apdu`` that fails loudly if the answer is not ``size`` bytes + 9000."""
    first = transport.transmit(apdu)
    if len(first) != size + 2 or first[-2:] != b"\x90\x00":
        raise SystemExit(f"unexpected answer to {apdu.hex().upper()}: {first.hex().upper()}")
    return lambda: transport.transmit(apdu)


def bench_ours(readers: tuple[str, str], count: int, runs: int) -> dict[str, float]:
    direct, chained = bench_runtime(), bench_runtime()
    results: dict[str, float] = {}
    with VPCDBridge(direct, slot=0), VPCDBridge(chained, slot=1):
        wait_for_card(readers[0], atr=direct.atr)
        wait_for_card(readers[1], atr=chained.atr)
        with PCSCTransport(readers[0]) as slot0, PCSCTransport(readers[1]) as slot1:
            results["SELECT"] = median_rate(checked(slot0, SELECT_AID, 11), count, runs)
            results["READ 256 B"] = median_rate(checked(slot0, READ_256, 256), count, runs)
            t0 = T0Transport(slot1)
            t0.transmit(SELECT_AID)
            results["READ 256 B via 61xx (2 APDUs)"] = median_rate(
                checked(t0, READ_256_NO_LE, 256), count // 2, runs)
            results["reset"] = median_rate(slot0.reset, count, runs)
    results["in process SELECT"] = median_rate(lambda: direct.transmit(SELECT_AID),
                                               count * 20, runs)
    for reader in readers:
        wait_for_removal(reader)
    return results


def bench_baseline(reader: str, port: int, runs: int) -> dict[str, float]:
    """vicc through pcscd on ``reader`` (a subprocess on ``port``), and in process."""
    results = {"in process SELECT MF": statistics.median(
        baseline_vicc.inproc_rate(5000) for _ in range(runs))}
    script = Path(baseline_vicc.__file__)
    vicc = subprocess.Popen([sys.executable, str(script), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_card(reader)
        with PCSCTransport(reader) as transport:
            results["SELECT MF"] = median_rate(
                checked(transport, baseline_vicc.SELECT_MF, 0), 25, runs)
    finally:
        vicc.terminate()
        vicc.wait(timeout=10)
    wait_for_removal(reader)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--count", type=int, default=3000, help="operations per run")
    parser.add_argument("--no-baseline", action="store_true", help="skip vsmartcard's vicc")
    args = parser.parse_args()
    try:
        with virtual_reader_lock():  # the slots are one machine-wide resource
            return _bench(args, ensure_pcsc_stack())
    except PCSCStackUnavailable as exc:
        print(f"cannot benchmark: {exc}", file=sys.stderr)
        return 2


def _bench(args: argparse.Namespace, stack: PCSCStack) -> int:
    print(f"pcscd {'started by dualcard' if stack.owned else 'started elsewhere'}; "
          f"readers {', '.join(stack.readers)}; median of {args.runs} runs")
    ours = bench_ours(stack.readers, args.count, args.runs)
    for name, rate in ours.items():
        unit = "resets/s" if name == "reset" else "APDU/s"
        print(f"  dualcard bridge  {name:32s} {rate:10,.0f} {unit}")
    resets_ok = ours["reset"] >= GOAL_RESETS
    print(f"  resets/s goal >= {GOAL_RESETS:,.0f}: {'met' if resets_ok else 'MISSED'}")
    if args.no_baseline:
        return 0
    try:
        base = bench_baseline(stack.readers[1], DEFAULT_BASE_PORT + 1, args.runs)
    except (baseline_vicc.BaselineUnavailable, PCSCStackUnavailable) as exc:
        print(f"baseline unavailable: {exc}", file=sys.stderr)
        return 2
    for name, rate in base.items():
        print(f"  vsmartcard vicc  {name:32s} {rate:10,.1f} APDU/s")
    ratio = ours["SELECT"] / base["SELECT MF"]
    inproc = ours["in process SELECT"] / base["in process SELECT MF"]
    print(f"  through pcscd: {ratio:,.0f}x the baseline (goal >= {GOAL_RATIO:.0f}x: "
          f"{'met' if ratio >= GOAL_RATIO else 'MISSED'})")
    print(f"  in process:    {inproc:,.1f}x the baseline card OS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
