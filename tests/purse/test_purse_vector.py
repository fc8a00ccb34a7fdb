"""The published PBOC load, bit-exact through the purse applet and the load host.

Vector V62 of /work/shared/vectors/public.json: a real card log of a PBOC 2.0 electronic
purse load (ConardLKL/ChangSha, doc/华大智宝/CSMetroScriptandLog_20151102/t2_load.txt and
t2_load.py; keys in doc/华大智宝/t1_initAndActive.py). The card random is injected.
"""

from __future__ import annotations

import datetime as dt

import pytest

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.ciphers import Algorithm
from host.points import FixedCardKeys, LoadHost, PurseCardKeys, PurseProfile
from host.points.records import expected_tac

from .purse_helpers import connect, make_card, sw_of

DLK = bytes.fromhex("374598b5c0b0eae1e1d06609ac5bb369")
DTK = bytes.fromhex("caa6025290114bfcc3c9043f70f7a07a")
RANDOM = bytes.fromhex("cdef4f20")
INIT_APDU = bytes.fromhex("805000020B0100001C37000001000050")
INIT_RESPONSE = bytes.fromhex("0000000000000100CDEF4F2006B1BEF5")
CREDIT_APDU = bytes.fromhex("805200000B201408251031000641DCD8")
MAC2 = bytes.fromhex("0641DCD8")
TAC = bytes.fromhex("ED0F8755")
TERMINAL = bytes.fromhex("000001000050")
WHEN = dt.datetime(2014, 8, 25, 10, 31, 0)
KEYS = FixedCardKeys({Purse.BANK: PurseCardKeys(Algorithm.TDES, DLK, bytes(range(16)), DTK)})


@pytest.fixture
def card():
    # P2 = 02 in the logged APDU is the electronic purse; here it is purse 02 (bank points).
    return make_card(KEYS, profiles={Purse.BANK: PurseProfile(max_balance=100_000)},
                     random=lambda n: RANDOM)


def test_logged_apdus_give_the_logged_answers(card):
    rt = card.chip2
    assert sw_of(rt.transmit(bytes.fromhex("00A4040007F000000002010100"))) == 0x9000
    assert rt.transmit(INIT_APDU) == bytes.fromhex("6110")  # no Le in the log: 61xx
    assert rt.transmit(bytes.fromhex("00C0000010")) == INIT_RESPONSE + b"\x90\x00"
    assert rt.transmit(CREDIT_APDU) == bytes.fromhex("6104")
    assert rt.transmit(bytes.fromhex("00C0000004")) == TAC + b"\x90\x00"
    assert rt.transmit(bytes.fromhex("805C000204")) == bytes.fromhex("00001C379000")
    assert not rt.internal_errors


def test_load_host_reproduces_mac2_and_accepts_the_tac(card):
    client = connect(card)
    init = client.initialize_for_load(Purse.BANK, 0x1C37, TERMINAL, key_index=1)
    assert (init.balance, init.online_seq, init.key_version, init.algorithm_id) == (0, 0, 1, 0)
    assert (init.random, init.mac1) == (RANDOM, bytes.fromhex("06B1BEF5"))
    issuer = LoadHost(KEYS)
    auth = issuer.authorize(client.card_identity, init, WHEN)
    assert auth.mac2 == MAC2 and auth.time_bytes == bytes.fromhex("20140825103100")
    tac = client.credit_for_load(auth.time_bytes, auth.mac2)
    assert tac == TAC
    record = issuer.confirm(auth, tac)
    assert (record.balance_after, record.card_seq) == (0x1C37, 0)
    assert record.txn_type is TransactionType.LOAD
    assert expected_tac(record, DTK, Algorithm.TDES) == TAC


def test_client_load_flow_is_the_published_exchange(card):
    client = connect(card)
    record = client.load(Purse.BANK, 0x1C37, LoadHost(KEYS), terminal_id=TERMINAL, when=WHEN)
    assert record.tac == TAC
    assert client.balance(Purse.BANK) == 0x1C37
    proof = client.transaction_proof(Purse.BANK, TransactionType.LOAD, 0)
    assert proof is not None and (proof.mac, proof.tac) == (MAC2, TAC)
    assert client.read_log(Purse.BANK) == [record]
