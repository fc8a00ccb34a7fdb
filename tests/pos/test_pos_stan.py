"""The terminal's STAN counter kept in its data directory (host.pos.stan): a restarted
terminal, in another process, goes on from its last STAN (over the network:
tests/service/test_stan_restart.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.pos.config import load_config
from host.pos.stan import STAN_FILE, STAN_MAX, PersistentStanCounter
from tests.pos.conftest import terminal_files

ROOT = Path(__file__).resolve().parents[2]

_RUN = """
import sys
from host.pos.stan import PersistentStanCounter
counter = PersistentStanCounter(sys.argv[1], start=int(sys.argv[2]))
print(" ".join(str(counter()) for _ in range(int(sys.argv[3]))))
"""


def _run_terminal(path: Path, start: int, count: int) -> list[int]:
    """A terminal process that sends ``count`` messages, then stops."""
    done = subprocess.run([sys.executable, "-c", _RUN, str(path), str(start), str(count)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    return [int(s) for s in done.stdout.split()]


def test_a_restarted_terminal_goes_on_from_its_last_stan(tmp_path: Path) -> None:
    path = tmp_path / STAN_FILE
    first = _run_terminal(path, 500, 3)
    second = _run_terminal(path, 500, 3)  # restarted within the same second: same clock
    assert first == [500, 501, 502] and second == [503, 504, 505]


@settings(max_examples=25, deadline=None)
@given(start=st.integers(0, 2 * STAN_MAX), runs=st.lists(st.integers(1, 40), min_size=1,
                                                          max_size=5))
def test_stans_never_repeat_across_restarts_and_stay_in_range(
        tmp_path_factory: pytest.TempPathFactory, start: int, runs: list[int]) -> None:
    path = tmp_path_factory.mktemp("stan") / STAN_FILE
    given_out: list[int] = []
    for count in runs:
        counter = PersistentStanCounter(path, start=start)
        given_out += [counter() for _ in range(count)]
        counter.close()
    assert len(set(given_out)) == len(given_out)
    assert all(1 <= stan <= STAN_MAX for stan in given_out)


def test_the_counter_wraps_after_999999_to_1(tmp_path: Path) -> None:
    counter = PersistentStanCounter(tmp_path / STAN_FILE, start=STAN_MAX - 1)
    assert [counter(), counter(), counter()] == [STAN_MAX - 1, STAN_MAX, 1]
    counter.close()


def test_two_processes_of_one_terminal_share_the_counter(tmp_path: Path) -> None:
    path = tmp_path / STAN_FILE
    one, two = PersistentStanCounter(path, start=7), PersistentStanCounter(path, start=7)
    assert [one(), two(), one(), two()] == [7, 8, 9, 10]
    one.close()
    two.close()


def test_the_configuration_keeps_the_counter_beside_the_journal(tmp_path: Path) -> None:
    config = load_config(terminal_files(tmp_path)["config"])
    counter = config.open_stan_counter()
    stan = counter()
    counter.close()
    assert (config.journal.parent / STAN_FILE).exists()
    again = config.open_stan_counter()
    assert again() == stan % STAN_MAX + 1
    again.close()
