"""Testing the stamp card with dualcard's pytest fixtures.

No conftest is needed: installing dualcard registers its pytest plugin, which brings
the fixtures ``chip1``, ``sim_card``, ``card_faults``… Each test gets its own fork of
a personalised dual-chip card; this module installs the stamp card on chip 1 of it.
"""

from __future__ import annotations

import pytest
import stamp_card.applet  # noqa: F401  (registers the load file; an installed package needs no import)
from stamp_card.client import StampClient
from stamp_card.specs import AID, LOAD_FILE_AID, MODULE_AID

from apdu_specs.sw import CardError
from host.gp import GPClient, parse_key_spec
from host.testing import simulated_link, tear_sweep
from host.transport.base import Transport

MERCHANT = bytes.fromhex("00000042")


def install_stamp_card(transport: Transport) -> None:
    """INSTALL the stamp card through chip 1's security domain (test keys)."""
    gp = GPClient(transport)
    gp.select()
    gp.open_secure_channel(parse_key_spec("default"))
    gp.install(LOAD_FILE_AID, MODULE_AID, AID)


def stamp_client(transport: Transport) -> StampClient:
    client = StampClient(transport)
    client.select()
    return client


@pytest.fixture
def stamp(chip1: Transport) -> StampClient:
    install_stamp_card(chip1)
    return stamp_client(chip1)


def test_ten_stamps_make_a_reward(stamp: StampClient) -> None:
    for count in range(1, 11):
        assert stamp.stamp(MERCHANT) == count
    assert stamp.redeem() == 1
    assert stamp.read() == (0, 1)


def test_redeeming_too_early_changes_nothing(stamp: StampClient) -> None:
    stamp.stamp(MERCHANT)
    with pytest.raises(CardError) as refused:
        stamp.redeem()
    assert refused.value.sw == 0x6985
    assert stamp.read() == (1, 0)


def test_the_pos_sees_a_full_card(stamp: StampClient, card_faults) -> None:
    card_faults.force_sw(chip=1, ins=0x30, sw=0x6A84)  # the next STAMP only
    with pytest.raises(CardError) as refused:
        stamp.stamp(MERCHANT)
    assert refused.value.sw == 0x6A84
    assert stamp.stamp(MERCHANT) == 1


def test_redeem_is_all_or_nothing_at_every_tear_point(sim_card) -> None:
    chip1 = simulated_link(sim_card).chip(1)
    install_stamp_card(chip1)
    full = stamp_client(chip1)
    for _ in range(10):
        full.stamp(MERCHANT)

    runs = list(tear_sweep(sim_card.fork, chip=1,
                           action=lambda card: stamp_client(simulated_link(card).chip(1)).redeem()))

    assert runs[-1].torn is False and len(runs) > 1
    for run in runs:
        after = stamp_client(simulated_link(run.card).chip(1)).read()
        assert after in {(10, 0), (0, 1)}, f"torn after write {run.after_writes}: {after}"
