"""The purse against a model: loads, spends, forged MACs, tears and power cycles in any order."""

from __future__ import annotations

import datetime as dt

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from apdu_specs.commands.purse_data import LOG_CAPACITY, Purse, TransactionType
from apdu_specs.sw import CardError
from host.points import PurseProfile, TransactionInterrupted, verify_tac

from .purse_helpers import IDENTITY, actors, applet, connect, issuer_keys, make_card, purse_state

MAX = 1000
LIMIT = 4
TIME = bytes.fromhex("20240501123000")
purses = st.sampled_from(list(Purse))
amounts = st.integers(0, 450)
kinds = st.sampled_from([TransactionType.LOAD, TransactionType.PURCHASE])


class PurseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.keys = issuer_keys()
        self.card = make_card(self.keys, profiles={p: PurseProfile(max_balance=MAX) for p in Purse},
                              mac_try_limit=LIMIT)
        self.client = connect(self.card)
        self.issuer, self.sam = actors(self.keys)
        self.balance = dict.fromkeys(Purse, 0)
        self.seq = {kind: dict.fromkeys(Purse, 0) for kind in TransactionType}
        self.log: dict[Purse, list[tuple[TransactionType, int, int]]] = {p: [] for p in Purse}
        self.failures = 0
        self.locked = False
        self.clock = dt.datetime(2024, 1, 1)

    # --- the model ----------------------------------------------------------------------
    def init_sw(self, kind: TransactionType, purse: Purse, amount: int) -> int:
        if self.locked:
            return 0x9303
        if amount == 0:
            return 0x6A80
        if kind is TransactionType.LOAD:
            return 0x6A80 if self.balance[purse] + amount > MAX else 0x9000
        return 0x9401 if amount > self.balance[purse] else 0x9000

    def moved(self, kind: TransactionType, purse: Purse, amount: int) -> None:
        self.balance[purse] += amount if kind is TransactionType.LOAD else -amount
        self.log[purse].append((kind, amount, self.seq[kind][purse]))
        self.seq[kind][purse] += 1
        self.failures = 0

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=1)
        return self.clock

    # --- what the card is asked to do ---------------------------------------------------
    def move(self, kind: TransactionType, purse: Purse, amount: int):
        if kind is TransactionType.LOAD:
            return self.client.load(purse, amount, self.issuer, terminal_id=self.sam.terminal_id,
                                    when=self.tick())
        return self.client.purchase(purse, amount, self.sam, when=self.tick())

    def check_record(self, record, kind: TransactionType, purse: Purse, amount: int) -> None:
        assert (record.txn_type, record.purse, record.amount) == (kind, purse, amount)
        assert verify_tac(IDENTITY, record, tac_master_key=self.keys.tac_master,
                          algorithm=self.keys.algorithm)

    @rule(kind=kinds, purse=purses, amount=amounts)
    def honest(self, kind, purse, amount):
        expected = self.init_sw(kind, purse, amount)
        try:
            record = self.move(kind, purse, amount)
        except CardError as exc:
            assert exc.sw == expected
            return
        assert expected == 0x9000
        self.check_record(record, kind, purse, amount)
        self.moved(kind, purse, amount)

    @rule(kind=kinds, purse=purses, amount=amounts, mac=st.binary(min_size=4, max_size=4))
    def forged(self, kind, purse, amount, mac):
        expected = self.init_sw(kind, purse, amount)
        try:
            if kind is TransactionType.LOAD:
                self.client.initialize_for_load(purse, amount, self.sam.terminal_id)
            else:
                self.client.initialize_for_purchase(purse, amount, self.sam.terminal_id)
        except CardError as exc:
            assert exc.sw == expected
            return
        assert expected == 0x9000
        try:
            if kind is TransactionType.LOAD:
                self.client.credit_for_load(TIME, mac)
            else:
                self.client.debit_for_purchase(7, TIME, mac)
        except CardError as exc:  # a random MAC matching the right one is 2**-32: treat as wrong
            assert exc.sw == 0x9302
        self.failures += 1
        self.locked = self.failures >= LIMIT

    @rule(kind=kinds, purse=purses, amount=amounts, k=st.integers(0, 6))
    def torn(self, kind, purse, amount, k):
        expected = self.init_sw(kind, purse, amount)
        self.client.select()
        self.card.tear(2, k)
        try:
            record = self.move(kind, purse, amount)
        except CardError as exc:
            assert exc.sw == expected
            return
        except TransactionInterrupted as exc:
            self.client.transport.connect()
            if kind is TransactionType.LOAD:
                record = self.client.recover_load(exc.pending, self.issuer)
            else:
                record = self.client.recover_purchase(exc.pending, self.sam)
        finally:
            self.card.card.chip2.memory.disarm_tear()
        assert expected == 0x9000
        if record is not None:
            self.check_record(record, kind, purse, amount)
            self.moved(kind, purse, amount)
        elif k >= 1:  # torn after the MAC check's count: it stays until the next movement
            self.failures += 1

    @rule()
    def power_cycle(self):
        self.card.chip2.power_on()
        self.client.select()

    # --- what must always hold ------------------------------------------------------------
    @invariant()
    def card_matches_model(self):
        assert self.client.balances() == self.balance
        guard = applet(self.card).guard
        assert (guard.failures, guard.locked) == (self.failures, self.locked)
        for purse in Purse:
            state = purse_state(self.card, purse)
            assert state.online_seq == self.seq[TransactionType.LOAD][purse]
            assert state.offline_seq == self.seq[TransactionType.PURCHASE][purse]
            logged = [(r.txn_type, r.amount, r.card_seq) for r in self.client.read_log(purse)]
            assert logged == list(reversed(self.log[purse]))[:LOG_CAPACITY]


PurseMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestPurseStateMachine = PurseMachine.TestCase
