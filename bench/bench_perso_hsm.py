"""Personalisation with the master keys in a token (SoftHSM2) beside the key file, in one run.

The same job as bench/bench_perso.py (a blank simulated card, both chips, SCP03 with C-MAC
and C-DECRYPTION, INSTALL / STORE DATA / PUT KEY / SET STATUS and the read-back, numbers
from an SQLite number store), once with the sealed key file's masters in this process and
once with the same masters in a fresh SoftHSM2 token: every card key derived there, its KCV
computed there and, when the card is personalised, encrypted under the channel's DEK there
(docs/hsm.md, section 5). Runs alternate between the two, so a busy machine slows both
alike; the median of the runs is printed, and the token's rate as a share of the file's
(goal: at least 50 %).

The 3DES suite's card keys are the documented exception (read out of the token into a
buffer that is wiped): a run of the 3DES profile measures how long each value was in the
process, from the read to the wipe.

    python bench/bench_perso_hsm.py [cards per run] [runs]     # default 40 cards, 5 runs
"""

from __future__ import annotations

import copy
import statistics
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench_perso import PROFILE, TimedTarget, holders, one_run

from host.keystore import KeyFile, new_key_file
from host.perso import NumberStore, Personaliser, parse_profile
from host.perso.card_keys import CardKeys
from host.testing.softhsm import USER_PIN, fresh_token

CARDS = 40
RUNS = 5


def profile(suite: str):  # type: ignore[no-untyped-def]
    data = copy.deepcopy(tomllib.loads(PROFILE.read_text()))
    data["issuer"]["suite"] = suite
    return parse_profile(data)


@contextmanager
def token_keys(directory: Path, keys: KeyFile, suite: str) -> Iterator[CardKeys]:
    """A fresh token holding ``keys``' masters, as the profile's card keys."""
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider
    from host.perso.token_keys import TokenCardKeys

    uri = fresh_token(directory / "softhsm")
    with TokenKeyProvider.open(uri, USER_PIN, rw=True) as provider:
        for info in keys.info():
            import_key(provider, keys.get(info.name))
        yield TokenCardKeys(provider, profile(suite))


def rates(cards: int, runs: int) -> tuple[float, float]:
    """Cards/s with the key file and with the token (AES suite), medians of ``runs``."""
    suite = "AES"
    keys = new_key_file(suite)
    records = holders(2 * cards * runs + 6)
    with tempfile.TemporaryDirectory() as where, \
            token_keys(Path(where), keys, suite) as in_token, \
            NumberStore(Path(where) / "file.sqlite3") as file_store, \
            NumberStore(Path(where) / "token.sqlite3") as token_store:
        by_file = Personaliser(profile(suite), keys, numbers=file_store)
        by_token = Personaliser(profile(suite), in_token, numbers=token_store)
        one_run(by_file, records[:3])  # warm up
        one_run(by_token, records[3:6])
        samples: dict[str, list[float]] = {"file": [], "token": []}
        at = 6
        for _ in range(runs):
            for name, personaliser in (("file", by_file), ("token", by_token)):
                samples[name].append(
                    one_run(personaliser, records[at:at + cards]).cards_per_second)
                at += cards
    return statistics.median(samples["file"]), statistics.median(samples["token"])


def tdes_exposure(cards: int) -> tuple[float, int, float, float]:
    """The 3DES profile with a token: cards/s, buffers of card keys read out (one key, or
    the keys of one DGI), mean and longest time (µs) each held a value."""
    from host.hsm.sealing import exposure_stats

    suite = "TDES"
    keys = new_key_file(suite)
    with tempfile.TemporaryDirectory() as where, \
            token_keys(Path(where), keys, suite) as in_token, \
            NumberStore(Path(where) / "numbers.sqlite3") as store:
        personaliser = Personaliser(profile(suite), in_token, numbers=store)
        before, total_before, _ = exposure_stats()
        sample = one_run(personaliser, holders(cards), make_target=_tdes_target)
        count, total, longest = exposure_stats()
    count -= before
    return sample.cards_per_second, count, (total - total_before) / count / 1000, longest / 1000


def _tdes_target() -> TimedTarget:
    target = TimedTarget()
    target.suite = "3DES"
    return target


def main() -> None:
    cards = int(sys.argv[1]) if len(sys.argv) > 1 else CARDS
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else RUNS
    by_file, by_token = rates(cards, runs)
    tdes_rate, read, mean_us, longest_us = tdes_exposure(cards)
    print(f"personalisation, in process, both chips, read-back; AES suite; median of {runs} "
          f"runs of {cards} cards, alternating")
    print(f"  cards per second, key file          {by_file:8.1f}")
    print(f"  cards per second, token             {by_token:8.1f}")
    print(f"  token / key file                    {by_token / by_file:8.0%}   (goal >= 50 %)")
    print(f"3DES suite with the token ({cards} cards): {tdes_rate:.1f} cards/s; {read} "
          f"buffers of card keys read out (a PUT KEY key, or a DGI's keys), each in the "
          f"process {mean_us:.0f} us on average, {longest_us:.0f} us at most")


if __name__ == "__main__":
    main()
