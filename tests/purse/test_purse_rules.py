"""Every rule a real purse keeps: ceilings, no overdraft, counters, MAC limits, lock, replay."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.sw import CardError
from host.points import (
    KeyMismatchError,
    LoadHost,
    PurseMACError,
    PurseProfile,
    SoftwarePurchaseSAM,
    WrongPINError,
)
from host.transport.base import CardRemovedError

from .purse_helpers import (
    TERMINAL,
    WHEN,
    actors,
    applet,
    connect,
    issuer_keys,
    make_card,
    purse_memory,
    purse_state,
    sw_of,
)

TIME = bytes.fromhex("20240501123000")


def sw(fn, *args, **kwargs) -> int:
    """The status word ``fn`` fails with (9000 if it succeeds)."""
    try:
        fn(*args, **kwargs)
    except CardError as exc:
        return exc.sw
    return 0x9000


@pytest.fixture
def card():
    return make_card(profiles={p: PurseProfile(max_balance=1000) for p in Purse})


@pytest.fixture
def client(card):
    return connect(card)


def load(client, purse, amount, keys=None):
    issuer, _ = actors(keys)
    return client.load(purse, amount, issuer, terminal_id=TERMINAL, when=WHEN)


def spend(client, purse, amount, keys=None):
    _, sam = actors(keys)
    return client.purchase(purse, amount, sam, when=WHEN)


def test_no_load_above_the_maximum(client):
    assert sw(load, client, Purse.BANK, 1001) == 0x6A80
    load(client, Purse.BANK, 600)
    assert sw(load, client, Purse.BANK, 401) == 0x6A80
    load(client, Purse.BANK, 400)
    assert client.balance(Purse.BANK) == 1000
    assert sw(load, client, Purse.BANK, 1) == 0x6A80


def test_no_debit_below_zero_and_no_zero_amounts(client):
    load(client, Purse.CREDIT, 50)
    assert sw(spend, client, Purse.CREDIT, 51) == 0x9401
    assert sw(client.initialize_for_load, Purse.CREDIT, 0, TERMINAL) == 0x6A80
    assert sw(client.initialize_for_purchase, Purse.CREDIT, 0, TERMINAL) == 0x6A80
    spend(client, Purse.CREDIT, 50)
    assert client.balance(Purse.CREDIT) == 0
    assert sw(spend, client, Purse.CREDIT, 1) == 0x9401


def test_sequence_numbers_are_never_reused(card, client):
    state = purse_state(card, Purse.CONSUMPTION)
    state.online_seq, state.offline_seq = 0xFFFE, 0xFFFE  # outside a command: written at once
    assert load(client, Purse.CONSUMPTION, 10).card_seq == 0xFFFE
    assert sw(load, client, Purse.CONSUMPTION, 10) == 0x9402
    assert spend(client, Purse.CONSUMPTION, 5).card_seq == 0xFFFE
    assert sw(spend, client, Purse.CONSUMPTION, 1) == 0x9402
    assert client.balance(Purse.CONSUMPTION) == 5


def test_unknown_key_index_and_purse(card, client):
    assert sw(client.initialize_for_load, Purse.BANK, 5, TERMINAL, key_index=2) == 0x9403
    assert sw(client.initialize_for_purchase, Purse.BANK, 5, TERMINAL, key_index=0) == 0x9403
    client.select()
    assert sw_of(card.chip2.transmit(bytes.fromhex("805C000404"))) == 0x6A86
    assert sw_of(card.chip2.transmit(bytes.fromhex("805002020B0100000001000001000050"))) == 0x6A86
    assert sw_of(card.chip2.transmit(bytes.fromhex("805000020A01000000010000010000"))) == 0x6700


def test_a_purse_not_personalised_answers_6a88():
    card = make_card(profiles={Purse.CONSUMPTION: PurseProfile()})
    client = connect(card)
    assert client.select().purses.keys() == {Purse.CONSUMPTION}
    assert client.balances() == {Purse.CONSUMPTION: 0}
    assert sw(client.balance, Purse.BANK) == 0x6A88
    assert sw(client.initialize_for_load, Purse.BANK, 1, TERMINAL) == 0x6A88
    assert sw(client.read_log, Purse.CREDIT) == 0x6A88


def test_completion_without_initialize_is_refused(client):
    assert sw(client.credit_for_load, TIME, bytes(4)) == 0x6985
    assert sw(client.debit_for_purchase, 1, TIME, bytes(4)) == 0x6985
    load(client, Purse.BANK, 10)
    client.initialize_for_purchase(Purse.BANK, 1, TERMINAL)
    assert sw(client.credit_for_load, TIME, bytes(4)) == 0x6985  # the wrong completion
    assert sw(client.debit_for_purchase, 1, TIME, bytes(4)) == 0x6985  # and the session is gone


def test_the_session_does_not_survive_a_reset(card, client):
    issuer, _ = actors()
    init = client.initialize_for_load(Purse.BANK, 10, TERMINAL)
    auth = issuer.authorize(client.card_identity, init, WHEN)
    card.chip2.power_on()
    client.select()
    assert sw(client.credit_for_load, auth.time_bytes, auth.mac2) == 0x6985
    assert client.balance(Purse.BANK) == 0


def test_a_replayed_mac2_is_refused(client):
    issuer, _ = actors()
    init = client.initialize_for_load(Purse.BANK, 10, TERMINAL)
    auth = issuer.authorize(client.card_identity, init, WHEN)
    client.credit_for_load(auth.time_bytes, auth.mac2)
    assert sw(client.credit_for_load, auth.time_bytes, auth.mac2) == 0x6985  # same session
    client.initialize_for_load(Purse.BANK, 10, TERMINAL)  # new random, new sequence number
    assert sw(client.credit_for_load, auth.time_bytes, auth.mac2) == 0x9302
    assert client.balance(Purse.BANK) == 10


def test_malformed_date_is_refused_and_ends_the_session(client):
    issuer, _ = actors()
    init = client.initialize_for_load(Purse.BANK, 10, TERMINAL)
    auth = issuer.authorize(client.card_identity, init, WHEN)
    assert sw(client.credit_for_load, bytes.fromhex("20241301123000"), auth.mac2) == 0x6A80
    assert sw(client.credit_for_load, auth.time_bytes, auth.mac2) == 0x6985


def _forge_credit(client, mac2=b"\x00\x00\x00\x00"):
    client.initialize_for_load(Purse.BANK, 10, TERMINAL)
    return sw(client.credit_for_load, TIME, mac2)


def test_wrong_macs_lock_the_application_for_good(card, client):
    load(client, Purse.BANK, 100)
    assert [_forge_credit(client) for _ in range(2)] == [0x9302, 0x9302]
    assert applet(card).guard.failures == 2
    _, sam = actors()
    init = client.initialize_for_purchase(Purse.BANK, 5, TERMINAL)
    sam.authorize_purchase(client.card_identity, init, WHEN)
    assert sw(client.debit_for_purchase, 1, TIME, bytes(4)) == 0x9302  # third: locks
    assert applet(card).guard.locked
    for attempt in (lambda: load(client, Purse.BANK, 1),
                    lambda: spend(client, Purse.CONSUMPTION, 1),
                    lambda: client.verify_pin("1234")):
        assert sw(attempt) == 0x9303
    card.power_on()
    twin = card.fork()
    for c in (connect(card), connect(twin)):  # locked across power cycles and images
        assert sw(load, c, Purse.CONSUMPTION, 1) == 0x9303
        assert c.balance(Purse.BANK) == 100  # reads still work: the issuer can refund
        assert len(c.read_log(Purse.BANK)) == 1


def test_a_right_mac_resets_the_count(card, client):
    assert [_forge_credit(client) for _ in range(2)] == [0x9302, 0x9302]
    load(client, Purse.BANK, 1)
    assert applet(card).guard.failures == 0
    assert [_forge_credit(client) for _ in range(2)] == [0x9302, 0x9302]
    assert not applet(card).guard.locked


def test_a_failed_guess_is_counted_even_when_power_goes_right_after(card, client):
    client.initialize_for_load(Purse.BANK, 10, TERMINAL)
    card.tear(2, 1)  # the first persistent write of a wrong MAC2 is the try count
    with pytest.raises(CardRemovedError):
        client.credit_for_load(TIME, bytes(4))
    client.transport.connect()
    assert applet(card).guard.failures == 1


@pytest.fixture(scope="module")
def forge_base():
    card = make_card(mac_try_limit=15)
    load(connect(card), Purse.CONSUMPTION, 500)
    return card


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mac=st.binary(min_size=4, max_size=4), purchase=st.booleans())
def test_forged_macs_are_always_rejected(forge_base, mac, purchase):
    card = forge_base.fork()
    client = connect(card)
    before = purse_memory(card)
    if purchase:
        init = client.initialize_for_purchase(Purse.CONSUMPTION, 100, TERMINAL)
        _, sam = actors()
        right = sam.authorize_purchase(client.card_identity, init, WHEN)
        result = sw(client.debit_for_purchase, right.terminal_seq, right.time_bytes, mac)
        forged = mac != right.mac1
    else:
        init = client.initialize_for_load(Purse.CONSUMPTION, 100, TERMINAL)
        issuer, _ = actors()
        right = issuer.authorize(client.card_identity, init, WHEN)
        result = sw(client.credit_for_load, right.time_bytes, mac)
        forged = mac != right.mac2
    if forged:
        assert result == 0x9302
        after = purse_memory(card)
        changed = {k for k in after if after[k] != before.get(k)}
        assert [k.split("/", 2)[2] for k in changed] == ["mac/failures"]
    else:
        assert result == 0x9000


def test_the_hosts_refuse_a_card_that_is_not_genuine(client):
    other = issuer_keys(Algorithm.AES)
    other = dataclasses.replace(other, load_master=bytes(16), purchase_master=bytes(16))
    load(client, Purse.BANK, 100)
    with pytest.raises(PurseMACError):
        load(client, Purse.BANK, 10, keys=other)  # MAC1 does not check
    assert sw(spend, client, Purse.BANK, 10, keys=other) == 0x9302  # the card refuses MAC1
    assert client.balance(Purse.BANK) == 100
    sam = SoftwarePurchaseSAM(issuer_keys(), TERMINAL)
    init = client.initialize_for_purchase(Purse.BANK, 1, TERMINAL)
    sam.authorize_purchase(client.card_identity, init, WHEN)
    with pytest.raises(PurseMACError):
        sam.verify_mac2(bytes(4))


def test_key_version_mismatch_is_reported(client):
    keys = dataclasses.replace(issuer_keys(), key_version=2)
    with pytest.raises(KeyMismatchError):
        client.load(Purse.BANK, 1, LoadHost(keys), terminal_id=TERMINAL, when=WHEN)


def test_pin_blocks_after_its_tries():
    client = connect(make_card(pin="2468"))
    for left in (2, 1, 0):
        with pytest.raises(WrongPINError) as err:
            client.verify_pin("1111")
        assert err.value.tries_left == left
    assert sw(client.verify_pin, "2468") == 0x6983
