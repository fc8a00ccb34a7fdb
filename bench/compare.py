"""Run one benchmark against two source trees, alternately, and compare the medians.

A figure from a shared machine drifts with whatever else runs on it; running the baseline
and the changed tree one after the other (in ABBA order), several times, lets the drift fall
on both alike.
The benchmark script is this tree's (so both trees are measured the same way); only the
code under test changes, through ``PYTHONPATH``.

    python bench/compare.py --baseline ../main -- bench/bench_perso.py 60 7
    python bench/compare.py --baseline ../main --rounds 5 -- bench/bench_crypto.py

Every output line with numbers in it is a figure row: the line with its numbers blanked (and
its place among lines of the same shape) is the row's name, and each number is compared by
its median over the rounds; a row is shown as the first run printed it. Rows that do
not appear in every run (a profile printed only sometimes) are left out, and so are numbers
equal in both (the sizes and counts in a row's label).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w.])")

Figures = dict[str, list[float]]
#: a row's name → the row as the first run printed it (shown in the report)
_LABELS: dict[str, str] = {}


def run_once(tree: Path, command: list[str]) -> Figures:
    """The figure rows of one run of ``command`` with ``tree`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, *command], cwd=HERE, env=env, check=True,
                          capture_output=True, text=True)
    rows: Figures = {}
    seen: dict[str, int] = defaultdict(int)
    for line in done.stdout.splitlines():
        numbers = _NUMBER.findall(line)
        if numbers:
            template = " ".join(_NUMBER.sub("#", line).split())
            seen[template] += 1  # rows of one shape (a table) are told apart by their place
            _LABELS.setdefault(f"{template} [{seen[template]}]", line.strip())
            rows[f"{template} [{seen[template]}]"] = [float(n.replace(",", "")) for n in numbers]
    return rows


def medians(runs: list[Figures]) -> Figures:
    """Per row present in every run, the median of each of its numbers."""
    common = set.intersection(*(set(run) for run in runs))
    out: Figures = {}
    for name in sorted(common, key=list(runs[0]).index):
        columns = zip(*(run[name] for run in runs), strict=False)
        out[name] = [statistics.median(column) for column in columns]
    return out


def report(base: Figures, new: Figures, rounds: int) -> None:
    print(f"median of {rounds} alternating runs each: baseline -> this tree (change)")
    for name, base_values in base.items():
        new_values = new.get(name)
        if new_values is None or len(new_values) != len(base_values):
            continue
        shown = []
        for before, after in zip(base_values, new_values, strict=True):
            if before == after:  # a label's number (a size, a count), or a figure unchanged
                continue
            change = f"{(after - before) / before * 100:+.1f}%" if before else "n/a"
            shown.append(f"{before:g} -> {after:g} ({change})")
        print(f"  {_LABELS.get(name, name)}\n      " + ("; ".join(shown) or "unchanged"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="-- the benchmark script and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the benchmark to run after --")
    runs: dict[str, list[Figures]] = defaultdict(list)
    trees = [("baseline", args.baseline.resolve()), ("new", HERE)]
    for round_no in range(args.rounds):
        # ABBA order: a drift during the session falls on both trees alike
        for label, tree in trees if round_no % 2 == 0 else trees[::-1]:
            runs[label].append(run_once(tree, command))
            print(f"round {round_no + 1}/{args.rounds}: {label} done", file=sys.stderr)
    report(medians(runs["baseline"]), medians(runs["new"]), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
