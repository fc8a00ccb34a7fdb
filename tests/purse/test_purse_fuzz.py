"""Malformed and random APDUs to the purse: always a status word, never an internal error."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apdu_specs.commands.purse_data import Purse
from host.points import PurseProfile

from .purse_helpers import TERMINAL, WHEN, actors, connect, make_card, purse_memory


@pytest.fixture(scope="module")
def base():
    card = make_card(profiles={p: PurseProfile(max_balance=5000) for p in Purse}, pin="1234")
    issuer, sam = actors()
    client = connect(card)
    client.load(Purse.BANK, 300, issuer, terminal_id=TERMINAL, when=WHEN)
    client.purchase(Purse.BANK, 100, sam, when=WHEN)
    return card


_HEADERS = st.tuples(st.sampled_from([0x00, 0x80, 0x84, 0x90]),
                     st.sampled_from([0x20, 0x50, 0x52, 0x54, 0x5A, 0x5C, 0xB2, 0xCA, 0xFF]),
                     st.integers(0, 0xFF) | st.sampled_from([0, 1, 2, 3]),
                     st.integers(0, 0xFF) | st.sampled_from([1, 2, 3, 0xC4, 0xCC, 0xD4]))


_COMMAND = st.tuples(_HEADERS, st.binary(max_size=20), st.none() | st.integers(0, 255))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(_COMMAND, min_size=1, max_size=6))
def test_random_commands_always_get_a_status_word(base, commands):
    card = base.fork()
    runtime = card.chip2
    runtime.transmit(bytes.fromhex("00A4040007F000000002010100"))
    before = purse_memory(card)
    for (cla, ins, p1, p2), data, le in commands:
        apdu = bytes([cla, ins, p1, p2])
        if data:
            apdu += bytes([len(data)]) + data
        if le is not None:
            apdu += bytes([le])
        response = runtime.transmit(apdu)
        assert len(response) >= 2
    assert not runtime.internal_errors, runtime.internal_errors[0]
    # random bytes never move points (a forged MAC only ever moves the failure count)
    after = purse_memory(card)
    changed = {k.split("/", 2)[2] for k in after if after[k] != before.get(k)}
    assert changed <= {"mac/failures", "mac/locked", "pin.tries"}
