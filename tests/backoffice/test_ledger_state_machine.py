"""Hypothesis drives the ledger through random transfers, holds, posts, voids, expiries and
chains; after every step the invariants hold and the balances equal a simple model's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from host.backoffice import (
    AccountSpec,
    Asset,
    Database,
    IdReusedError,
    Ledger,
    Reason,
    Source,
    SourceKind,
    Transfer,
    TransferCode,
)
from tests.backoffice.backoffice_helpers import check_invariants

P = Asset.CONSUMPTION_POINTS
OP = Source(SourceKind.OPERATOR, "machine")
ACCOUNTS = {  # id: (lower, upper)
    "source": (None, None),
    "a": (0, None),
    "b": (0, 300),
    "c": (-200, None),
}
amounts = st.integers(min_value=1, max_value=250)
names = st.sampled_from(sorted(ACCOUNTS))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.db = Database("sqlite://")
        self.db.create_schema()
        self.ledger = Ledger(self.db)
        self.now = datetime(2025, 1, 1, tzinfo=UTC)
        self.ledger.create_accounts(
            [AccountSpec(k, P, "x", lower_bound=lo, upper_bound=up)
             for k, (lo, up) in ACCOUNTS.items()], at=self.now
        )
        self.model = {k: [0, 0, 0, 0] for k in ACCOUNTS}  # dpo, cpo, dpe, cpe
        self.holds: dict[str, tuple[str, str, int, datetime | None]] = {}
        self.created: dict[str, Transfer] = {}
        self.counter = 0

    def teardown(self) -> None:
        self.db.dispose()

    def _id(self) -> str:
        self.counter += 1
        return f"t{self.counter}"

    def _submit(self, transfers: list[Transfer]) -> list[TransferCode]:
        results = self.ledger.create_transfers(transfers, at=self.now)
        for transfer, result in zip(transfers, results, strict=True):
            if result.code is TransferCode.CREATED:
                self.created[transfer.id] = transfer
                self._apply(transfer)
        return [r.code for r in results]

    def _apply(self, t: Transfer) -> None:
        if t.pending_id is None:
            debit, credit = self.model[t.debit_account], self.model[t.credit_account]
            amount = t.amount
            if t.expires_at is not None or t.kind.value == "pending":
                debit[2] += amount
                credit[3] += amount
                self.holds[t.id] = (t.debit_account, t.credit_account, amount, t.expires_at)
            else:
                debit[0] += amount
                credit[0 + 1] += amount
            return
        d_id, c_id, held, _ = self.holds.pop(t.pending_id)
        debit, credit = self.model[d_id], self.model[c_id]
        debit[2] -= held
        credit[3] -= held
        if t.kind.value == "post":
            posted = held if t.amount is None else t.amount
            debit[0] += posted
            credit[1] += posted

    def _lowest(self, account: str) -> int:
        dpo, cpo, dpe, _ = self.model[account]
        return cpo - dpo - dpe

    @rule(debit=names, credit=names, amount=amounts)
    def transfer(self, debit: str, credit: str, amount: int) -> None:
        t = Transfer.single(self._id(), debit, credit, amount, P, Reason.ADJUSTMENT, OP)
        [code] = self._submit([t])
        lower = ACCOUNTS[debit][0]
        if debit != credit and code is TransferCode.EXCEEDS_LOWER_BOUND:
            assert lower is not None and self._lowest(debit) - amount < lower
        if debit != credit and lower is not None and self._lowest(debit) < lower:
            raise AssertionError("posted beyond the lower bound")

    @rule(debit=names, credit=names, amount=amounts, expires=st.one_of(
        st.none(), st.integers(min_value=1, max_value=120)))
    def hold(self, debit: str, credit: str, amount: int, expires: int | None) -> None:
        when = None if expires is None else self.now + timedelta(seconds=expires)
        self._submit([Transfer.hold(self._id(), debit, credit, amount, P, OP, expires_at=when)])

    @precondition(lambda self: bool(self.holds))
    @rule(data=st.data(), partial=st.booleans())
    def resolve(self, data, partial: bool) -> None:
        pid = data.draw(st.sampled_from(sorted(self.holds)))
        held = self.holds[pid][2]
        if data.draw(st.booleans()):
            amount = data.draw(st.integers(1, held)) if partial else None
            t = Transfer.post(self._id(), pid, OP, amount=amount)
        else:
            t = Transfer.void(self._id(), pid, OP)
        [code] = self._submit([t])
        assert code in (TransferCode.CREATED, TransferCode.PENDING_TRANSFER_EXPIRED)

    @rule(seconds=st.integers(min_value=1, max_value=90))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.ledger.expire_due(at=self.now)
        for pid, (d_id, c_id, held, expires) in list(self.holds.items()):
            if expires is not None and expires <= self.now:
                self.model[d_id][2] -= held
                self.model[c_id][3] -= held
                del self.holds[pid]

    @rule(legs=st.lists(st.tuples(names, names, amounts), min_size=2, max_size=3))
    def chain(self, legs) -> None:
        transfers = [
            Transfer.single(self._id(), d, c, a, P, Reason.ADJUSTMENT, OP,
                            linked=i < len(legs) - 1)
            for i, (d, c, a) in enumerate(legs)
        ]
        codes = self._submit(transfers)
        assert all(c is TransferCode.CREATED for c in codes) or not any(
            c is TransferCode.CREATED for c in codes
        )

    @precondition(lambda self: bool(self.created))
    @rule(data=st.data())
    def retry(self, data) -> None:
        """A created transfer sent again answers exists; with other content it is refused."""
        tid = data.draw(st.sampled_from(sorted(self.created)))
        original = self.created[tid]
        [result] = self.ledger.create_transfers([original], at=self.now)
        assert result.code is TransferCode.EXISTS
        other = Transfer.single(tid, "source", "a", 999, P, Reason.EARN, OP)
        try:
            self.ledger.create_transfers([other], at=self.now)
        except IdReusedError:
            pass
        else:
            raise AssertionError("a reused id was accepted")

    @invariant()
    def balances_match_the_model_and_the_invariants(self) -> None:
        for account in self.ledger.accounts(ACCOUNTS):
            b = account.balance
            actual = [b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending]
            assert actual == self.model[account.id], (account.id, actual, self.model[account.id])
        check_invariants(self.db)


LedgerMachine.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase
