"""Hypothesis drives prepaid cards through random issues (to registered and anonymous
holders), payments, refunds, expiries, freezes and claims; after every step: no card above
its kind's cap or below zero, principal +
bonus = the card's ledger balance, the merchant's cards = its custody account, a frozen
card never pays, and a claim pays each card exactly once."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from host.backoffice.errors import BackOfficeError
from host.backoffice.prepaid import HolderKind, Trigger
from host.backoffice.prepaid.accounts import card_account, cny
from host.backoffice.prepaid.errors import InsufficientValueError, MerchantFrozenError
from host.backoffice.prepaid.schema import pp_cards, pp_movements
from tests.prepaid.prepaid_helpers import CAP, HOLDERS, T0, Sample, check_invariants

ANONYMOUS_CAP = 100_000  # the default: 1,000 CNY

holders = st.sampled_from(HOLDERS)


class PrepaidMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sample = Sample.create("sqlite://", valid_days=20)
        self.pp = self.sample.prepaid
        self.now = T0
        self.counter = 0
        self.payments: list[str] = []
        self.frozen = False
        self.claim_state: str | None = None
        self.payouts = 0

    def teardown(self) -> None:
        self.sample.office.close()

    def _id(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.counter}"

    def _accounts(self) -> list[str]:
        return [f"{h}/GYM-FIT" for h in HOLDERS]

    @rule(holder=holders, amount=st.integers(1, 3 * CAP), kind=st.sampled_from(HolderKind))
    def issue(self, holder: str, amount: int, kind: HolderKind) -> None:
        try:
            answer = self.pp.issue(self._id("buy"), "GYM-FIT", holder, amount, at=self.now,
                                   holder_kind=kind)
        except MerchantFrozenError:
            assert self.frozen
            return
        assert not self.frozen
        cap = CAP if kind is HolderKind.REGISTERED else ANONYMOUS_CAP
        assert sum(c["principal"] for c in answer["cards"]) == amount
        assert all(0 < c["value"] <= cap for c in answer["cards"])
        assert answer["holder_kind"] == kind.value and answer["card_cap"] == cap

    @rule(holder=holders, price=st.integers(1, 2 * CAP), times=st.sampled_from([1, 2]))
    def pay(self, holder: str, price: int, times: int) -> None:
        request = self._id("pay")
        for _ in range(times):
            try:
                before = self._usable(holder)
                answer = self.pp.pay(request, f"{holder}/GYM-FIT", price, at=self.now)
            except MerchantFrozenError:
                assert self.frozen or self._usable(holder) == 0
                return
            except InsufficientValueError:
                assert price > before
                return
            except BackOfficeError as exc:  # no account yet
                assert "no prepaid account" in str(exc)
                return
            assert not self.frozen, "a frozen card paid"
        self.payments.append(request)
        assert answer["charged"] == price

    def _usable(self, holder: str) -> int:
        try:
            cards = self.pp.balance(f"{holder}/GYM-FIT")["cards"]
        except BackOfficeError:
            return 0
        return sum(c["balance"] for c in cards if c["status"] == "active"
                   and (c["expires_at"] is None
                        or datetime.fromisoformat(c["expires_at"]) > self.now))

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        payment = data.draw(st.sampled_from(self.payments))
        with contextlib.suppress(MerchantFrozenError):  # a card of it expired or is frozen
            self.pp.refund(payment, at=self.now)

    @rule(days=st.integers(1, 15))
    def time_passes_and_cards_expire(self, days: int) -> None:
        self.now += timedelta(days=days)
        self.pp.expire_due(at=self.now)

    @precondition(lambda self: self.claim_state is None)
    @rule()
    def merchant_closes(self) -> None:
        self.pp.open_claim("CLM", "GYM", Trigger.CLOSURE, trigger_at=self.now, at=self.now)
        self.frozen, self.claim_state = True, "open"

    @precondition(lambda self: self.claim_state == "open")
    @rule()
    def insurer_approves_and_pays(self) -> None:
        self.pp.review_claim("CLM", approve=True, note="", at=self.now)
        paid = self.pp.pay_claim("CLM", at=self.now)
        again = self.pp.pay_claim("CLM", at=self.now)
        assert again["status"] == "exists"
        self.payouts = paid["payout"]
        self.claim_state = "paid"

    @invariant()
    def books_hold(self) -> None:
        check_invariants(self.pp)

    @invariant()
    def every_card_is_bounded_by_its_kinds_cap(self) -> None:
        with self.pp.db.read() as conn:
            kinds = dict(conn.execute(select(pp_cards.c.card_no, pp_cards.c.holder_kind)).all())
        accounts = self.pp.ledger.accounts(card_account(no) for no in kinds)
        caps = {"registered": CAP, "anonymous": ANONYMOUS_CAP}
        assert {a.id: a.upper_bound for a in accounts} == {
            card_account(no): caps[kind] for no, kind in kinds.items()}

    @invariant()
    def a_claim_pays_each_card_once(self) -> None:
        with self.pp.db.read() as conn:
            most = conn.execute(
                select(func.count()).select_from(pp_movements)
                .where(pp_movements.c.kind == "claim").group_by(pp_movements.c.card_no)
                .order_by(func.count().desc()).limit(1)).scalar()
        assert (most or 0) <= 1
        received = sum(self.sample.office.balance(cny(h)).posted for h in HOLDERS)
        assert received == self.payouts


TestPrepaidMachine = PrepaidMachine.TestCase
TestPrepaidMachine.settings = settings(max_examples=30, stateful_step_count=25)
