"""A plan made without answers (what clearing asks for) writes the same rows and deltas as one
with answers, names the same failures, and gives the final balance of every account moved."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from host.backoffice import Asset, Reason, Source, SourceKind, Transfer
from host.backoffice.posting import AccountState, Plan, Planner

P = Asset.CONSUMPTION_POINTS
OP = Source(SourceKind.OPERATOR, "tests")
NAMES = ("issuer", "alice", "bob", "carol")


def _accounts() -> dict[str, AccountState]:
    bounds = {"issuer": (None, None), "alice": (0, None), "bob": (0, 300), "carol": (-100, None)}
    return {name: AccountState(name, P, low, high, 0, 0, 0, 0)
            for name, (low, high) in bounds.items()}


def _plan(transfers: list[Transfer], answers: bool) -> Plan:
    planner = Planner(at_micros=1_000, accounts=_accounts(), existing={}, holds={},
                      answers=answers)
    return planner.apply(transfers)


_moves = st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES),
                            st.integers(1, 250), st.booleans()), max_size=12)


@settings(max_examples=150, deadline=None)
@given(_moves)
def test_a_plan_without_answers_posts_the_same(moves: list[tuple[str, str, int, bool]]) -> None:
    transfers = [Transfer.single(f"t{n}", debit, credit, amount, P, Reason.EARN, OP,
                                 linked=linked and n < len(moves) - 1)
                 for n, (debit, credit, amount, linked) in enumerate(moves)]
    full, bare = _plan(transfers, True), _plan(transfers, False)
    assert (bare.rows, bare.deltas) == (full.rows, full.deltas)
    assert bare.results == [r for r in full.results if not r.ok]
    assert bare.ok is full.ok
    moved = {row[2] for row in full.rows} | {row[3] for row in full.rows}
    assert moved <= set(bare.balances)  # every account a row moved (a chain undone: its own)
    assert all(full.balances[aid] == balance for aid, balance in bare.balances.items())
