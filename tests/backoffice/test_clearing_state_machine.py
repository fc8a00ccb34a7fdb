"""Hypothesis runs the alliance's business at random (batches of earns and spends, forged
records, resent batches, conversions, credit reviews, settlements); after every operation:
per asset all balances sum to zero, none is outside its bounds, and every stored card record
carries a TAC (or ARQC) that verifies again."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from host.backoffice import BatchRejectedError, TerminalBatch, TransferRejectedError
from host.backoffice.errors import ValidationError
from tests.backoffice.backoffice_helpers import (
    BAKERY_TERMINAL,
    CARD_COUNT,
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    check_invariants,
    consumer,
)

cards = st.integers(min_value=1, max_value=CARD_COUNT)
terminals = st.sampled_from([TEA_TERMINAL, BAKERY_TERMINAL])
yuan = st.integers(min_value=1, max_value=400)


class AllianceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sample = SampleAlliance.create("sqlite://")
        self.office = self.sample.office
        self.now = T0
        self.points = dict.fromkeys(range(1, CARD_COUNT + 1), 0)
        self.sent: list[TerminalBatch] = []
        self.count = 0

    def teardown(self) -> None:
        self.office.close()

    def _batch_id(self) -> str:
        self.count += 1
        return f"B{self.count}"

    def _clear(self, batch: TerminalBatch, effect: dict[int, int]) -> bool:
        try:
            self.office.clear(batch, at=self.now)
        except BatchRejectedError:
            return False
        self.sent.append(batch)
        for n, delta in effect.items():
            self.points[n] += delta
        return True

    @rule(terminal=terminals, earns=st.lists(st.tuples(cards, yuan), min_size=1, max_size=5))
    def earn(self, terminal: str, earns) -> None:
        term = self.sample.terminal(terminal)
        per_yuan = 1 if terminal == TEA_TERMINAL else 2
        effect: dict[int, int] = {}
        for n, spent in earns:
            term.load(card(n), spent * per_yuan, spent * 100, self.now)
            effect[n] = effect.get(n, 0) + spent * per_yuan
        assert self._clear(term.close_batch(self._batch_id()), effect)

    @rule(terminal=terminals, spends=st.lists(st.tuples(cards, yuan), min_size=1, max_size=3))
    def spend(self, terminal: str, spends) -> None:
        term = self.sample.terminal(terminal)
        effect: dict[int, int] = {}
        for n, points in spends:
            points = min(points, term.card_balance(card(n)))  # the card refuses more
            if points:
                term.spend(card(n), points, self.now)
                effect[n] = effect.get(n, 0) - points
        if not effect:
            return
        affordable = all(self.points[n] + d >= 0 for n, d in effect.items())
        assert self._clear(term.close_batch(self._batch_id()), effect) == affordable

    @rule(terminal=terminals, n=cards, spent=yuan, field=st.sampled_from(["tac", "amount"]))
    def forged(self, terminal: str, n: int, spent: int, field: str) -> None:
        term = self.sample.terminal(terminal)
        per_yuan = 1 if terminal == TEA_TERMINAL else 2
        term.load(card(n), spent * per_yuan, spent * 100, self.now)
        batch = term.close_batch(self._batch_id())
        payment, record = batch.records
        bad = (dataclasses.replace(record, tac=bytes(4)) if field == "tac"
               else dataclasses.replace(record, purchase_fen=record.purchase_fen + 100))
        forged = TerminalBatch(batch.batch_id, batch.terminal_id, (payment, bad))
        assert not self._clear(forged, {n: 10**9})

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def resend(self, data) -> None:
        batch = data.draw(st.sampled_from(self.sent))
        assert self.office.clear(batch, at=self.now).status == "exists"

    @rule(n=cards, points=st.integers(min_value=1, max_value=500),
          premium=st.booleans())
    def convert(self, n: int, points: int, premium: bool) -> None:
        self.count += 1
        try:
            self.office.convert(f"CV{self.count}", consumer(n), points, at=self.now,
                                insurer_id="INSURER" if premium else None,
                                policy="POL-1" if premium else None, fee_bp=150)
        except TransferRejectedError:
            assert points > self.points[n]
            return
        except ValidationError:
            assert points * 10_000 < 10_000 + 150 * points  # the fee leaves nothing to pay
            return
        self.points[n] -= points

    @rule()
    def credit_review(self) -> None:
        self.office.review_credit(at=self.now)

    @rule()
    def settle_and_next_day(self) -> None:
        day = self.office.settings().business_day(self.now)
        self.now += timedelta(days=1)
        self.office.settle(day, at=self.now)

    @invariant()
    def books_balance(self) -> None:
        check_invariants(self.office.db, self.office.verifier)
        for n, expected in self.points.items():
            assert self.office.balance(f"{consumer(n)}:consumption_points").posted == expected


AllianceMachine.TestCase.settings = settings(
    max_examples=20, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestAllianceMachine = AllianceMachine.TestCase
