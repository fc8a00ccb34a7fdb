"""Hypothesis drives the settlement centre across its three tiers with several actors
interleaved — holders placing, accepting and cancelling orders, merchants entering codes
(right and wrong), the scheduler's date releases and expiries, transfers between a holder's
accounts, a bank that goes down and comes back, and a process that dies after asking for a
top-up but before the bank answered. After every step: no settlement account above its cap,
no top-up asked or paid twice, every hold ended at most once and each order's money where
the model says, codes locked after the limit, every asset summing to zero."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import select

from host.backoffice.centre import (
    BankAnswer,
    Condition,
    OrderRequest,
    ReleaseBy,
    SettlementCentre,
    Tier,
)
from host.backoffice.centre.errors import (
    BankUnavailableError,
    CentreRefusedError,
    ReleaseRefusedError,
)
from host.backoffice.centre.release_codes import MAX_TRIES
from host.backoffice.centre.tables import sc_orders, sc_topups
from host.backoffice.centre.topups import request_topups
from host.backoffice.schema import ledger_transfers
from tests.backoffice.backoffice_helpers import check_invariants
from tests.backoffice.centre_helpers import ADDRESS, CAP, HOLDERS, T0, make_centre

amounts = st.integers(min_value=1, max_value=400_000)


class _Bank:
    """The simulated bank behind a switch."""

    def __init__(self, inner: object) -> None:
        self.inner, self.down = inner, False

    def debit(self, request_id: str, bank_account: str, amount: int, *,
              at: datetime) -> BankAnswer:
        if self.down:
            raise BankUnavailableError("down")
        return self.inner.debit(request_id, bank_account, amount, at=at)  # type: ignore[attr-defined]


class CentreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        base = make_centre("sqlite://", deposit=3_000_000)
        self.bank = _Bank(base.bank)
        self.centre = SettlementCentre(base.db, bank=self.bank)
        self.now = T0
        self.count = 0
        #: order id -> [holder, amount, released, state, code or None, tries]
        self.orders: dict[str, list] = {}
        self.answers: dict[tuple[str, str], int] = {}  # (order, request) -> moved

    def teardown(self) -> None:
        self.centre.close()

    def _next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def _open(self) -> list[str]:
        return sorted(o for o, m in self.orders.items() if m[3] == "held")

    # -- holders and merchants ------------------------------------------------------------

    @rule(holder=st.sampled_from(HOLDERS), amount=amounts,
          condition=st.sampled_from(list(Condition)), days=st.integers(1, 10))
    def place(self, holder: str, amount: int, condition: Condition, days: int) -> None:
        order_id = self._next("O")
        release_at = self.now + timedelta(days=days) if condition is Condition.DATE else None
        req = OrderRequest(order_id, holder, "M1", amount, condition, ADDRESS,
                           self.now + timedelta(days=days + 5), release_at)
        try:
            _, code, _ = self.centre.place_order(req, at=self.now)
        except CentreRefusedError as exc:
            assert exc.reason == "over_credit_line"
            return
        self.orders[order_id] = [holder, amount, 0, "held", code, 0]

    @precondition(lambda self: self._open())
    @rule(data=st.data(), part=st.booleans())
    def accept(self, data: st.DataObject, part: bool) -> None:
        order_id = data.draw(st.sampled_from(self._open()))
        model = self.orders[order_id]
        left = model[1] - model[2]
        amount = data.draw(st.integers(1, left)) if part else None
        self._release(order_id, ReleaseBy.HOLDER, amount, None)

    @precondition(lambda self: any(self.orders[o][4] for o in self._open()))
    @rule(data=st.data(), right=st.booleans())
    def enter_code(self, data: st.DataObject, right: bool) -> None:
        order_id = data.draw(st.sampled_from([o for o in self._open() if self.orders[o][4]]))
        model = self.orders[order_id]
        code = model[4] if right else ("000000" if model[4] != "000000" else "111111")
        self._release(order_id, ReleaseBy.CODE, None, code)

    def _release(self, order_id: str, by: ReleaseBy, amount: int | None,
                 code: str | None) -> None:
        model = self.orders[order_id]
        request = self._next("r")
        try:
            moved = self.centre.release(order_id, request, by=by, amount=amount, code=code,
                                        at=self.now).moved
        except ReleaseRefusedError as exc:
            if exc.reason == "wrong_code":
                model[5] += 1
            else:
                assert exc.reason in ("code_locked", "order_expired"), exc.reason
                assert exc.reason != "code_locked" or model[5] >= MAX_TRIES
            if exc.reason == "order_expired":
                self._sync_expired()
            return
        assert by is not ReleaseBy.CODE or model[5] < MAX_TRIES
        assert moved == (amount or model[1] - model[2])
        model[2] += moved
        if model[2] == model[1]:
            model[3] = "released"
        self.answers[(order_id, request)] = moved

    @precondition(lambda self: self._open())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        order_id = data.draw(st.sampled_from(self._open()))
        try:
            self.centre.void(order_id, self._next("v"), at=self.now)
        except ReleaseRefusedError as exc:
            assert exc.reason == "order_expired"
            self._sync_expired()
            return
        self.orders[order_id][3] = "voided"

    @precondition(lambda self: self.answers)
    @rule(data=st.data())
    def repeat_a_release(self, data: st.DataObject) -> None:
        order_id, request = data.draw(st.sampled_from(sorted(self.answers)))
        again = self.centre.release(order_id, request, by=ReleaseBy.HOLDER, at=self.now)
        assert again.moved == self.answers[(order_id, request)]

    @rule(holder=st.sampled_from(HOLDERS), amount=amounts, down=st.booleans())
    def transfer(self, holder: str, amount: int, down: bool) -> None:
        source, target = (Tier.VIRTUAL, Tier.SETTLEMENT) if down else \
            (Tier.SETTLEMENT, Tier.VIRTUAL)
        try:
            self.centre.transfer(holder, self._next("t"), source, target, amount, at=self.now)
        except CentreRefusedError as exc:
            assert exc.reason in ("exceeds_lower_bound", "exceeds_upper_bound")

    # -- the scheduler, the bank and a dying process ---------------------------------------

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        self._sync_expired()

    def _sync_expired(self) -> None:
        """The scheduler's pass: date orders due released, expired ones marked."""
        done = self.centre.run_due(at=self.now)
        for order_id in done["expired"]:
            self.orders[order_id][3] = "expired"
        for order_id in done["released"]:
            model = self.orders[order_id]
            model[2], model[3] = model[1], "released"

    @rule()
    def bank_switch(self) -> None:
        self.bank.down = not self.bank.down

    @rule()
    def retry(self) -> None:
        self.centre.retry_topups(at=self.now)

    @rule(holder=st.sampled_from(HOLDERS))
    def dies_before_asking_the_bank(self, holder: str) -> None:
        with self.centre.db.write() as conn:
            request_topups(conn, self.centre.ledger, [holder], at=self.now)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def ledger_is_sound(self) -> None:
        check_invariants(self.centre.db)

    @invariant()
    def never_above_the_cap(self) -> None:
        for holder in HOLDERS:
            s = self.centre.balances(holder)["settlement"]
            assert s["posted"] + s["pending_in"] <= CAP

    @invariant()
    def top_ups_are_paid_once(self) -> None:
        with self.centre.db.read() as conn:
            rows = conn.execute(select(sc_topups)).all()
            paid = {r.id: r.amount for r in conn.execute(
                select(ledger_transfers.c.id, ledger_transfers.c.amount)
                .where(ledger_transfers.c.id.like("simbank/%")))}
            posted = set(conn.execute(select(ledger_transfers.c.pending_id).where(
                ledger_transfers.c.id.like("sc:topup/%:post"))).scalars())
        for row in rows:
            bank_paid = paid.get(f"simbank/{row.id}")
            if row.state == "completed":
                assert bank_paid == row.amount and f"sc:{row.id}" in posted
            if row.state == "failed":
                assert bank_paid is None and f"sc:{row.id}" not in posted

    @invariant()
    def orders_are_where_the_model_says(self) -> None:
        with self.centre.db.read() as conn:
            rows = {r.id: r for r in conn.execute(select(sc_orders))}
        assert set(rows) == set(self.orders)
        for order_id, (_, _, done, state, _, tries) in self.orders.items():
            row = rows[order_id]
            assert (row.released, row.state, row.code_tries) == (done, state, tries), order_id
        merchant = self.centre.ledger.account("M1:cny").balance
        assert merchant.posted == sum(m[2] for m in self.orders.values())
        assert merchant.credits_pending == sum(
            m[1] - m[2] for m in self.orders.values() if m[3] == "held")


TestCentre = CentreMachine.TestCase
TestCentre.settings = settings(max_examples=int(os.environ.get("CENTRE_EXAMPLES", "40")),
                               stateful_step_count=30, deadline=None,
                               phases=[p for p in Phase if p is not Phase.explain])
