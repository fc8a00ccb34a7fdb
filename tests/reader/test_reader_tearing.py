"""Tear BIND, REBIND and UNBIND READER after each of their persistent writes.

After power-up the application's persistent state is what it was before the command or
what the untorn command leaves, never a reader id without its key or a binding under a
stale counter; and the reader that holds the binding then in force opens the card.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from host.reader import BindingClient, PersonalReader, bind
from host.transport.base import CardRemovedError
from simulator.card import SimulatedCard

from .helpers import AID, ISSUER, READER_A, READER_B, client, fresh_card, pay, reader

NEW_KEY = bytes(range(16))


def app_state(card: SimulatedCard) -> dict[str, Any]:
    store = card.card.chip1.content.instance(AID).store
    keys = store.keys()
    return {key: store.get(key) for key in keys}


def _bind_command(binding: BindingClient, reader_id: bytes) -> bytes:
    binding.select(AID)
    return ISSUER.bind_command(binding.identity(), binding.status(), binding.get_challenge(),
                               reader_id, NEW_KEY)


def _unbind_command(binding: BindingClient, reader_id: bytes) -> bytes:
    binding.select(AID)
    return ISSUER.unbind_command(binding.identity(), binding.status(), binding.get_challenge())


#: name → (bound to reader A first?, the command maker)
SCENARIOS: dict[str, tuple[bool, Callable[[BindingClient, bytes], bytes]]] = {
    "BIND READER": (False, _bind_command),
    "BIND READER (rebind)": (True, _bind_command),
    "UNBIND READER": (True, _unbind_command),
}


def _start(bound: bool) -> tuple[SimulatedCard, PersonalReader]:
    card, first = fresh_card(), reader(READER_A)
    if bound:
        bind(client(card), AID, ISSUER, first)
    return card, first


def _opens(card: SimulatedCard, state: dict[str, Any], first: PersonalReader) -> None:
    """Whatever binding is in force, its reader (or any terminal, unbound) can pay."""
    binding = client(card)
    if state.get("binding") is None:
        binding.select(AID)
    elif state["binding"][0] == READER_A:
        first.open(binding, AID)
    else:
        second = reader(READER_B)
        second.keys.keys["6200000000000005"] = NEW_KEY
        second.open(binding, AID)
    pay(binding)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_torn_at_every_write(name: str) -> None:
    bound, make = SCENARIOS[name]
    base, first = _start(bound)
    complete_card = base.fork()
    target = READER_B
    complete_client = client(complete_card)
    complete_client.send_issuer_command(make(complete_client, target), name)
    complete = app_state(complete_card)
    tears = 0
    for n in range(10):
        card = base.fork()
        binding = client(card)
        command = make(binding, target)
        before = app_state(card)
        card.tear(1, n)
        try:
            binding.send_issuer_command(command, name)
        except CardRemovedError:
            tears += 1
        else:
            break
        finally:
            card.chip1.chip.memory.disarm_tear()
        card.power_on()
        after = app_state(card)
        assert after in (before, complete), f"{name}: inconsistent after a tear at write {n}"
        _opens(card, after, first)
    assert tears >= 1, f"{name} made no persistent write"
    assert complete != app_state(base)
