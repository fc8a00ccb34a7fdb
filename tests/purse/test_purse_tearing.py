"""Power lost at every persistent write of a load and of a spend.

After power-up the purse is either exactly as before or exactly as after the movement
(balance, counter and log together), and GET TRANSACTION PROVE tells the host which, so
no point is lost or created. The MAC check's failure count is the completion's first
write: torn after it and before the commit, the movement is lost and one failure stays
counted (docs/decisions-purse.md P6).
"""

from __future__ import annotations

import pytest

from apdu_specs.commands.purse_data import Purse
from host.points import TransactionInterrupted, verify_tac

from .purse_helpers import (
    IDENTITY,
    WHEN,
    actors,
    applet,
    connect,
    issuer_keys,
    make_card,
    purse_memory,
)

PURSE = Purse.BANK


def _card_with_points():
    card = make_card()  # deterministic card random: every run below is reproducible
    issuer, _ = actors()
    connect(card).load(PURSE, 500, issuer, terminal_id=bytes(6), when=WHEN)
    card.chip2.power_on()
    return card


def _move(client, kind, issuer, sam):
    if kind == "load":
        return client.load(PURSE, 70, issuer, terminal_id=sam.terminal_id, when=WHEN)
    return client.purchase(PURSE, 30, sam, when=WHEN)


def _recover(client, kind, pending, issuer, sam):
    if kind == "load":
        return client.recover_load(pending, issuer)
    return client.recover_purchase(pending, sam)


def _purse(card):
    """The committed purse memory but the MAC check's failure count (see the module doc)."""
    return {k: v for k, v in purse_memory(card).items() if not k.endswith("/mac/failures")}


def _reference(kind):
    """Writes of the completing command, and the purse memory before and after it."""
    card = _card_with_points()
    client = connect(card)
    issuer, sam = actors()
    client.select()
    memory = card.card.chip2.memory
    before, start = _purse(card), memory.writes
    record = _move(client, kind, issuer, sam)
    return memory.writes - start, before, _purse(card), record


@pytest.mark.parametrize("kind", ["load", "purchase"])
def test_tear_at_every_write(kind):
    writes, before, after, clean = _reference(kind)
    assert writes >= 6  # the count; balance, counter, log slot, log count, reset; the commit
    for k in range(writes + 1):  # 0: before the first write
        card = _card_with_points()
        client = connect(card)
        issuer, sam = actors()
        client.select()
        card.tear(2, k)
        with pytest.raises(TransactionInterrupted) as interrupted:
            _move(client, kind, issuer, sam)
        client.transport.connect()  # power-up
        state = _purse(card)
        assert state in (before, after), f"inconsistent purse after a tear at write {k}"
        assert applet(card).guard.failures == (0 < k < writes), k
        record = _recover(client, kind, interrupted.value.pending, issuer, sam)
        happened = state == after
        assert (record is not None) == happened, k
        assert happened == (k == writes)  # only a tear on the commit keeps the movement
        if record is not None:
            assert record == clean
            assert verify_tac(IDENTITY, record, tac_master_key=issuer_keys().tac_master,
                              algorithm=issuer_keys().algorithm)
        # the purse carries on, and never reuses a sequence number
        expected = 500 + (70 if kind == "load" else -30) * happened
        assert client.balance(PURSE) == expected
        again = _move(client, kind, issuer, sam)
        assert again.card_seq == clean.card_seq + happened
        assert applet(card).guard.failures == 0  # a genuine movement resets the count


@pytest.mark.parametrize("kind", ["load", "purchase"])
def test_initialize_writes_nothing(kind):
    card = _card_with_points()
    client = connect(card)
    client.select()
    memory = card.card.chip2.memory
    start = memory.writes
    if kind == "load":
        client.initialize_for_load(PURSE, 1, bytes(6))
    else:
        client.initialize_for_purchase(PURSE, 1, bytes(6))
    assert memory.writes == start


def test_recovery_tells_a_lost_answer_from_a_lost_movement():
    """Both look the same to the terminal (the card went mute); PROVE tells them apart."""
    writes = _reference("load")[0]
    outcomes = []
    for k in (2, writes):  # the first journaled write, and the commit
        card = _card_with_points()
        client = connect(card)
        issuer, sam = actors()
        client.select()
        card.tear(2, k)
        with pytest.raises(TransactionInterrupted) as interrupted:
            _move(client, "load", issuer, sam)
        client.transport.connect()
        outcomes.append(client.recover_load(interrupted.value.pending, issuer) is not None)
    assert outcomes == [False, True]
