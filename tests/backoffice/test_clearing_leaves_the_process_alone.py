"""Clearing is a library call: it leaves the process's garbage collector as the caller set it,
runs with the collector on, and clears the same whichever way the caller set it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from host.backoffice.clearing import Clearing, ClearingResult
from host.backoffice.records import PaymentRecord, PurseRecord
from tests.backoffice.backoffice_helpers import T0, TEA_TERMINAL, SampleAlliance, card


class _Watching:
    """The alliance's verifier, noting whether the collector was on at each check it made
    (clearing checks every record in the middle of the call)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seen: set[bool] = set()

    def verify_purse_tac(self, record: PurseRecord) -> bool:
        self.seen.add(gc.isenabled())
        return self.inner.verify_purse_tac(record)  # type: ignore[attr-defined, no-any-return]

    def verify_payment_cryptogram(self, record: PaymentRecord) -> bool:
        self.seen.add(gc.isenabled())
        return self.inner.verify_payment_cryptogram(record)  # type: ignore[attr-defined, no-any-return]

    def verify_final_cryptogram(self, record: PaymentRecord) -> bool:
        self.seen.add(gc.isenabled())
        return self.inner.verify_final_cryptogram(record)  # type: ignore[attr-defined, no-any-return]


@contextmanager
def _collector(enabled: bool) -> Iterator[None]:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        yield
    finally:
        (gc.enable if was else gc.disable)()


def _clear_sample(url: str, collector_on: bool) -> tuple[ClearingResult, set[bool], bool]:
    sample = SampleAlliance.create(url)
    office = sample.office
    watching = _Watching(office.verifier)
    clearing = Clearing(office.db, office.ledger, watching)  # type: ignore[arg-type]
    tea = sample.terminal(TEA_TERMINAL)
    for n in range(1, 4):
        pay = tea.pay(card(n), 10_000 * n, T0)
        tea.load(card(n), 100 * n, 10_000 * n, T0, payment_ref=pay)
    tea.spend(card(1), 50, T0)
    batch = tea.close_batch("TEA-GC")
    try:
        with _collector(collector_on):
            result = clearing.clear(batch, at=T0)
            after = gc.isenabled()
    finally:
        office.close()
    return result, watching.seen, after


@pytest.mark.parametrize("collector_on", [True, False])
def test_a_clearing_call_leaves_the_collector_as_the_caller_set_it(
        tmp_path: Path, collector_on: bool) -> None:
    result, seen, after = _clear_sample(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", collector_on)
    assert result.status == "created"
    assert after is collector_on
    assert seen == {collector_on}  # never switched off (nor on) for the caller


def test_clearing_gives_the_same_result_with_the_collector_on_or_off(tmp_path: Path) -> None:
    on, _, _ = _clear_sample(f"sqlite:///{tmp_path / 'on.sqlite3'}", True)
    off, _, _ = _clear_sample(f"sqlite:///{tmp_path / 'off.sqlite3'}", False)
    assert on.as_dict() == off.as_dict()
    assert on.earned and on.redeemed == 50
