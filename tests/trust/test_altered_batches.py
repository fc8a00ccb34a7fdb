"""No field a terminal alters without a MAC to cover it ever changes a balance.

Hypothesis builds an honest terminal's batch (sales paid by chip, the loads that reward
them, points spent at the merchant), then alters clear fields of some records the way a
hostile terminal would. Clearing must either refuse the batch whole — nothing posted — or,
where the altered field is one nobody proves (docs/trust.md: kept as claimed), post exactly
what the honest batch posts.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host.backoffice.errors import BatchRejectedError
from host.records.assets import Asset
from host.records.batch import PaymentRecord, PurseRecord, TerminalBatch
from tests.backoffice.backoffice_helpers import (
    BAKERY_TERMINAL,
    CARD_COUNT,
    T0,
    TEA_TERMINAL,
    SampleAlliance,
    card,
    consumer,
)

_counter = itertools.count()

#: how a hostile terminal may alter each clear field (value -> altered value)
_PAYMENT_CHANGES = {
    "amount_fen": lambda v: v * 10,
    "application": lambda v: "credit" if v == "debit" else "debit",
    "atc": lambda v: v + 1,
    "card_id": lambda v: card(1) if v != card(1) else card(2),
    "date": lambda v: "20240101",
    "time": lambda v: "235959",
    "iad": lambda v: v[:-3] + bytes([v[-3] ^ 0x40]) + v[-2:],
}
_LOAD_CHANGES = {
    "amount": lambda v: v * 3,
    "purse": lambda v: Asset.BANK_POINTS,
    "purchase_fen": lambda v: v * 10,
    "issuer_id": lambda v: "BANK",
    "payment_ref": lambda v: None,
    "card_seq": lambda v: v + 1,
    "balance_after": lambda v: (v or 0) + 1000,
    "terminal_id": lambda v: bytes.fromhex(BAKERY_TERMINAL),
    "card_id": lambda v: card(1) if v != card(1) else card(2),
}
_SPEND_CHANGES = {
    "amount": lambda v: v * 2,
    "card_seq": lambda v: v + 7,  # not under the purchase TAC: claimed
    "balance_after": lambda v: 99_999,  # not under the purchase TAC: claimed
    "terminal_seq": lambda v: v + 1,
    "terminal_id": lambda v: bytes.fromhex(BAKERY_TERMINAL),
    "purse": lambda v: Asset.BANK_POINTS,
}
#: fields no MAC covers and no decision reads: altering them changes nothing
_CLAIMED = {("purchase", "card_seq"), ("purchase", "balance_after"), ("payment", "time")}

sales = st.lists(st.tuples(st.integers(1, CARD_COUNT), st.integers(1, 500)), min_size=1,
                 max_size=4)


def _honest(alliance: SampleAlliance, batch_id: str, sold: list[tuple[int, int]],
            spend: int) -> TerminalBatch:
    tea = alliance.terminal(TEA_TERMINAL)
    for n, yuan in sold:
        tea.load(card(n), yuan, yuan * 100, T0)
    n = sold[0][0]
    loaded_here = sum(yuan for m, yuan in sold if m == n)
    if 0 < spend <= loaded_here:  # points this very batch earned, whatever came before
        tea.spend(card(n), spend, T0)
    return tea.close_batch(batch_id)


def _alter(record: PaymentRecord | PurseRecord, field: str) -> PaymentRecord | PurseRecord:
    value = getattr(record, field)
    changes = (_PAYMENT_CHANGES if isinstance(record, PaymentRecord)
               else _LOAD_CHANGES if record.kind == "load" else _SPEND_CHANGES)
    return dataclasses.replace(record, **{field: changes[field](value)})


def _fields(record: PaymentRecord | PurseRecord) -> list[str]:
    if isinstance(record, PaymentRecord):
        return sorted(_PAYMENT_CHANGES)
    return sorted(_LOAD_CHANGES if record.kind == "load" else _SPEND_CHANGES)


def _balances(alliance: SampleAlliance) -> dict[str, int]:
    ids = [f"{consumer(n)}:{a.value}" for n in range(1, CARD_COUNT + 1)
           for a in (Asset.CONSUMPTION_POINTS, Asset.BANK_POINTS, Asset.CREDIT_POINTS)]
    ids += ["TEA:merchant_credit_points", "TEA:points_redeemed", "TEA:points_issued"]
    return {a.id: a.balance.posted for a in alliance.office.ledger.accounts(ids)}


@pytest.fixture
def hostile(db_url: str):
    """The alliance the hostile terminal uploads to, on the test's database kind."""
    alliance = SampleAlliance.create(db_url)
    yield alliance
    alliance.office.close()


def _delta(alliance: SampleAlliance, batch: TerminalBatch) -> dict[str, int]:
    """What clearing ``batch`` changes in the books (BatchRejectedError if refused)."""
    before = _balances(alliance)
    alliance.office.clear(batch, at=T0)
    return {k: v - before[k] for k, v in _balances(alliance).items() if v != before[k]}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sold=sales, spend=st.integers(0, 30), data=st.data())
def test_no_altered_field_changes_a_balance(hostile, tmp_path, sold, spend, data) -> None:
    batch_id = f"H-{next(_counter)}"
    batch = _honest(hostile, batch_id, sold, spend)
    records = list(batch.records)
    picks = data.draw(st.lists(st.integers(0, len(records) - 1), min_size=1, max_size=3,
                               unique=True))
    only_claims = True
    for index in picks:
        field = data.draw(st.sampled_from(_fields(records[index])))
        only_claims &= (records[index].kind, field) in _CLAIMED
        records[index] = _alter(records[index], field)
    before = _balances(hostile)
    try:
        changed = _delta(hostile, TerminalBatch(batch_id, batch.terminal_id, tuple(records)))
    except BatchRejectedError:
        assert _balances(hostile) == before  # refused whole: nothing posted
        return
    # It cleared: only fields nobody proves were altered, and the books moved as the honest
    # batch moves them in an alliance of its own.
    assert only_claims, picks
    honest = SampleAlliance.create(f"sqlite:///{tmp_path / f'{batch_id}.sqlite3'}")
    try:
        assert changed == _delta(honest, _honest(honest, batch_id, sold, spend))
    finally:
        honest.office.close()


_EVERY_ALTERATION = (
    [("payment", f) for f in sorted(_PAYMENT_CHANGES)]
    + [("load", f) for f in sorted(_LOAD_CHANGES)]
    + [("purchase", f) for f in sorted(_SPEND_CHANGES)]
)


@pytest.mark.parametrize(("kind", "field"), _EVERY_ALTERATION)
def test_each_field_alone(hostile, tmp_path, kind: str, field: str) -> None:
    """One field of one record altered: refused with nothing posted, unless nobody proves
    that field — then the books are exactly the honest batch's."""
    batch_id = f"ONE-{kind}-{field}"
    batch = _honest(hostile, batch_id, [(2, 300), (3, 45)], 20)
    records = list(batch.records)
    index = next(i for i, r in enumerate(records) if r.kind == kind)
    records[index] = _alter(records[index], field)
    altered = TerminalBatch(batch_id, batch.terminal_id, tuple(records))
    if (kind, field) not in _CLAIMED:
        before = _balances(hostile)
        with pytest.raises(BatchRejectedError):
            hostile.office.clear(altered, at=T0)
        assert _balances(hostile) == before
        return
    honest = SampleAlliance.create(f"sqlite:///{tmp_path / 'honest.sqlite3'}")
    try:
        assert _delta(hostile, altered) == _delta(honest, _honest(honest, batch_id,
                                                                  [(2, 300), (3, 45)], 20))
    finally:
        honest.office.close()
