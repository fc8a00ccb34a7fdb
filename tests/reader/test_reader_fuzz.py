"""Malformed and random binding commands to a bound payment application: always a status
word, never an internal error; random bytes never bind, unbind or open personal mode."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.reader import bind
from simulator.card import SimulatedCard

from .helpers import AID, ISSUER, client, fresh_card, reader

_GPO = bytes.fromhex("80A8000006830401560156" "00")


@pytest.fixture(scope="module")
def bound_card() -> SimulatedCard:
    card = fresh_card()
    bind(client(card), AID, ISSUER, reader())
    return card


_HEADERS = st.tuples(st.sampled_from([0x00, 0x80, 0x84, 0x8C]),
                     st.sampled_from([0x42, 0x44, 0x46, 0x48, 0x84, 0xA8, 0xCA]),
                     st.integers(0, 0xFF) | st.sampled_from([0, 1, 0xDF]),
                     st.integers(0, 0xFF) | st.sampled_from([0, 0x30]))
_COMMAND = st.tuples(_HEADERS, st.binary(max_size=40), st.none() | st.integers(0, 255))


def _binding_state(card: SimulatedCard) -> tuple[object, object]:
    store = card.card.chip1.content.instance(AID).store
    return store.get("binding"), store.get("binding_counter")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(_COMMAND, min_size=1, max_size=8))
def test_random_commands_never_open_or_change_the_binding(bound_card, commands) -> None:
    card = bound_card.fork()
    runtime = card.chip1
    runtime.transmit(bytes.fromhex("00A4040007") + AID + b"\x00")
    before = _binding_state(card)
    for (cla, ins, p1, p2), data, le in commands:
        apdu = bytes([cla, ins, p1, p2])
        if data:
            apdu += bytes([len(data)]) + data
        if le is not None:
            apdu += bytes([le])
        assert len(runtime.transmit(apdu)) >= 2
    assert not runtime.internal_errors, runtime.internal_errors[0]
    assert _binding_state(card) == before
    assert runtime.transmit(_GPO)[-2:] == b"\x69\x82"  # personal mode still closed
