"""The collector pause is the process's switch: only bulk work throws it, and a block gives
the collector back as it found it (on or off, nested or not)."""

from __future__ import annotations

import gc

import pytest

from host.backoffice import ledger
from host.backoffice.gcpause import paused_gc


@pytest.mark.parametrize("was_on", [True, False])
def test_a_paused_block_gives_the_collector_back_as_it_found_it(was_on: bool) -> None:
    before = gc.isenabled()
    (gc.enable if was_on else gc.disable)()
    try:
        with paused_gc():
            assert not gc.isenabled()
            with paused_gc():
                assert not gc.isenabled()
            assert not gc.isenabled()
        assert gc.isenabled() is was_on
    finally:
        (gc.enable if before else gc.disable)()


def test_request_sized_work_leaves_the_collector_alone() -> None:
    assert gc.isenabled()
    with paused_gc(False):
        assert gc.isenabled()
    assert gc.isenabled()


def test_the_ledger_itself_never_pauses_the_collector() -> None:
    assert "paused_gc" not in vars(ledger)
