"""Personalisation throughput: simulated dual-chip cards per second, in process.

Every card is the full job: a blank card, SCP03 with C-MAC and C-DECRYPTION on both chips,
INSTALL / STORE DATA (secrets encrypted under the DEK) / PUT KEY / SET STATUS, and the
read-back. As in a batch, the run's card numbers are allocated up front from an issuer's
number store (an SQLite file) and each issued card is marked there. A counting transport
sits right above each simulated chip, so the time spent inside the simulator (card work) is
measured apart from everything above it (host work: numbering, planning, key
diversification, APDU building, secure messaging, checks). The blank card's manufacture is
card-side work too and is timed on its own.

Goals: at least 200 cards/s in process; host work at most 1 ms per APDU.
Prints the median of several runs.

Run: python bench/bench_perso.py [cards per run] [runs]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cardlib.payment  # the simulator's payment load file
import cardlib.purse  # noqa: F401  (the simulator's purse load file)
from host.keystore import new_key_file
from host.perso import (
    HolderRecord,
    NumberStore,
    Personaliser,
    SimImageTarget,
    batch_origin,
    load_profile,
    read_holders_text,
)
from host.perso.counting import CountingTransport
from host.transport.base import Transport
from host.transport.t0 import T0Transport

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "examples" / "perso" / "profile.toml"
CARDS = 60
RUNS = 7


@dataclass
class Sample:
    cards: int
    seconds: float
    card_seconds: float
    blank_seconds: float
    apdus: int

    @property
    def cards_per_second(self) -> float:
        return self.cards / self.seconds

    @property
    def host_ms_per_apdu(self) -> float:
        return (self.seconds - self.card_seconds - self.blank_seconds) / self.apdus * 1000

    @property
    def card_ms_per_apdu(self) -> float:
        return self.card_seconds / self.apdus * 1000


class TimedTarget(SimImageTarget):
    """Blank simulated cards (not saved), counted and timed below the T=0 layer.

    Only the totals are kept: holding on to every card made would make the garbage
    collector's full passes grow with the run, which a batch (one card at a time) never sees.
    """

    def __init__(self) -> None:
        super().__init__(ROOT, save=False, wrap=self._wrap)
        self.counters: list[CountingTransport] = []
        self.apdus = 0
        self.card_seconds = 0.0
        self.blank_seconds = 0.0

    def _wrap(self, transport: Transport) -> Transport:
        counter = CountingTransport(transport)
        self.counters.append(counter)
        return T0Transport(counter)

    def settle(self) -> None:
        """Add the finished card's counters to the totals and let the card go."""
        self.apdus += sum(c.count for c in self.counters)
        self.card_seconds += sum(c.inner_seconds for c in self.counters)
        self.counters.clear()

    def blank(self, identity: str):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return super().blank(identity)
        finally:
            self.blank_seconds += time.perf_counter() - start


def holders(count: int) -> list[HolderRecord]:
    rows = "".join(f"HOLDER/NUMBER {i % 100},C-{i}\n" for i in range(count))
    return list(read_holders_text("name,holder_id\n" + rows))


def one_run(personaliser: Personaliser, records: list[HolderRecord],
            make_target: Callable[[], TimedTarget] = TimedTarget) -> Sample:
    """One run of ``records``' cards (``make_target``: blank cards of another suite)."""
    target = make_target()
    store = personaliser.numbers
    assert store is not None
    start = time.perf_counter()
    numbers = personaliser.number(records, batch_origin(personaliser.profile, records))
    with store.deferred_marks():  # as run_batch does
        for holder in records:
            plan = personaliser.plan(holder, numbers[holder.index])
            with target.card(plan) as slot:
                personaliser.personalise(plan, slot.transports, fresh=slot.fresh)
            target.settle()
    seconds = time.perf_counter() - start
    return Sample(len(records), seconds, target.card_seconds, target.blank_seconds, target.apdus)


def main() -> None:
    cards = int(sys.argv[1]) if len(sys.argv) > 1 else CARDS
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else RUNS
    with tempfile.TemporaryDirectory() as where, \
            NumberStore(Path(where) / "numbers.sqlite3") as store:
        personaliser = Personaliser(load_profile(PROFILE), new_key_file("AES"), numbers=store)
        # every run personalises cards never seen before: a card's keys are its own, and a
        # run that repeated earlier holders would find their ciphers still cached
        records = holders(cards * runs + 3)
        one_run(personaliser, records[-3:])  # warm up
        samples = [one_run(personaliser, records[i * cards:(i + 1) * cards])
                   for i in range(runs)]
    rate = statistics.median(s.cards_per_second for s in samples)
    host = statistics.median(s.host_ms_per_apdu for s in samples)
    card = statistics.median(s.card_ms_per_apdu for s in samples)
    blank = statistics.median(s.blank_seconds / s.cards * 1000 for s in samples)
    apdus = samples[0].apdus / samples[0].cards
    print(f"personalisation, in process, SCP03 C-MAC + C-DECRYPTION, both chips, read-back "
          f"(median of {runs} runs of {cards} cards)")
    print(f"  cards per second        {rate:8.1f}   (goal >= 200)")
    print(f"  APDUs per card          {apdus:8.1f}")
    print(f"  host work per APDU      {host:8.3f} ms (goal <= 1 ms)")
    print(f"  simulator per APDU      {card:8.3f} ms")
    print(f"  blank card manufacture  {blank:8.3f} ms per card")
    print(f"  per card: host {host * apdus:.2f} ms, simulator {card * apdus:.2f} ms, "
          f"manufacture {blank:.2f} ms")


if __name__ == "__main__":
    main()
