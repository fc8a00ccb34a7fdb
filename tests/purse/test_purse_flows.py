"""Loading and spending every kind of points in every suite; TACs the back office accepts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.purse import PurseScheme
from apdu_specs.sw import CardError
from host.points import PurseProfile, WrongPINError, verify_tac

from .purse_helpers import IDENTITY, SUITES, WHEN, actors, connect, issuer_keys, make_card


@pytest.mark.parametrize("algorithm", SUITES, ids=lambda a: a.value)
def test_load_and_spend_each_purse(algorithm):
    keys = issuer_keys(algorithm)
    card = make_card(keys)
    client = connect(card)
    issuer, sam = actors(keys)
    app = client.select()
    assert app.identity == IDENTITY
    assert app.purses == dict.fromkeys(Purse, PurseScheme(algorithm).algorithm_id)
    assert client.balances() == dict.fromkeys(Purse, 0)

    records = []
    for n, purse in enumerate(Purse, start=1):
        records.append(client.load(purse, 1000 * n, issuer, terminal_id=sam.terminal_id, when=WHEN))
        records.append(client.purchase(purse, 100 * n, sam, when=WHEN + dt.timedelta(minutes=n)))
    assert client.balances() == {Purse.CONSUMPTION: 900, Purse.BANK: 1800, Purse.CREDIT: 2700}

    master = keys.tac_master
    for record in records:
        assert verify_tac(IDENTITY, record, tac_master_key=master, algorithm=algorithm)
    spends = [r for r in records if r.txn_type is TransactionType.PURCHASE]
    assert [r.terminal_seq for r in spends] == [1, 2, 3]
    assert [(r.card_seq, r.balance_after) for r in spends] == [(0, 900), (0, 1800), (0, 2700)]
    for purse in Purse:
        logged = client.read_log(purse)
        assert logged == [r for r in reversed(records) if r.purse is purse]


@pytest.mark.parametrize("algorithm", SUITES, ids=lambda a: a.value)
def test_tac_does_not_survive_any_alteration(algorithm):
    keys = issuer_keys(algorithm)
    card = make_card(keys)
    client = connect(card)
    issuer, sam = actors(keys)
    load = client.load(Purse.BANK, 500, issuer, terminal_id=sam.terminal_id, when=WHEN)
    spend = client.purchase(Purse.BANK, 200, sam, when=WHEN)
    master = keys.tac_master

    def ok(record, identity=IDENTITY, key=master):
        return verify_tac(identity, record, tac_master_key=key, algorithm=algorithm)

    assert ok(load) and ok(spend)
    for record in (load, spend):
        for change in ({"amount": record.amount + 1}, {"purse": Purse.CREDIT},
                       {"terminal_id": bytes(6)}, {"when": record.when + dt.timedelta(seconds=1)},
                       {"tac": bytes(4)}, {"card_id": "6200001234567891"}):
            assert not ok(dataclasses.replace(record, **change)), change
        assert not ok(record, key=bytes(16))
        assert not ok(record, identity="6200001234567891")
    assert not ok(dataclasses.replace(load, balance_after=load.balance_after + 1))
    assert not ok(dataclasses.replace(load, card_seq=1))
    assert not ok(dataclasses.replace(spend, terminal_seq=spend.terminal_seq + 1))
    # what a purchase TAC does not cover is informational only
    assert ok(dataclasses.replace(spend, balance_after=0))


def test_transaction_proof_answers_the_logged_exchange():
    card = make_card()
    client = connect(card)
    issuer, sam = actors()
    load = client.load(Purse.CONSUMPTION, 42, issuer, terminal_id=sam.terminal_id, when=WHEN)
    proof = client.transaction_proof(Purse.CONSUMPTION, TransactionType.LOAD, load.card_seq)
    assert proof is not None and proof.tac == load.tac
    assert client.transaction_proof(Purse.CONSUMPTION, TransactionType.LOAD, 1) is None
    assert client.transaction_proof(Purse.CONSUMPTION, TransactionType.PURCHASE, 0) is None
    assert client.transaction_proof(Purse.BANK, TransactionType.LOAD, 0) is None
    spend = client.purchase(Purse.CONSUMPTION, 2, sam, when=WHEN)
    proof = client.transaction_proof(Purse.CONSUMPTION, TransactionType.PURCHASE, spend.card_seq)
    assert proof is not None and proof.tac == spend.tac
    sam.verify_mac2(proof.mac)  # the PROVE answer carries the purchase's MAC2


def test_log_keeps_the_last_ten_movements_per_purse():
    card = make_card()
    client = connect(card)
    issuer, _ = actors()
    made = [client.load(Purse.CREDIT, n, issuer, terminal_id=bytes(6), when=WHEN)
            for n in range(1, 14)]
    logged = client.read_log(Purse.CREDIT)
    assert len(logged) == 10
    assert logged == list(reversed(made))[:10]
    assert [r.card_seq for r in logged] == list(range(12, 2, -1))
    assert client.read_log(Purse.BANK) == []


def test_spending_a_pin_protected_purse_needs_the_pin():
    card = make_card(profiles={p: PurseProfile(pin_for_purchase=p is Purse.BANK) for p in Purse},
                     pin="123456")
    client = connect(card)
    issuer, sam = actors()
    for purse in Purse:
        client.load(purse, 100, issuer, terminal_id=sam.terminal_id, when=WHEN)
    client.purchase(Purse.CONSUMPTION, 1, sam, when=WHEN)  # no PIN needed there
    with pytest.raises(CardError) as err:
        client.purchase(Purse.BANK, 1, sam, when=WHEN)
    assert err.value.sw == 0x6982
    with pytest.raises(WrongPINError) as wrong:
        client.verify_pin("654321")
    assert wrong.value.tries_left == 2
    client.verify_pin("123456")
    record = client.purchase(Purse.BANK, 1, sam, when=WHEN)
    assert record.balance_after == 99
    client.select()  # a new selection forgets the verification
    with pytest.raises(CardError):
        client.purchase(Purse.BANK, 1, sam, when=WHEN)
