"""The settlement centre on SQLite and PostgreSQL: tiers, capped top-up, escrowed orders,
refusals at every entry (each a clear error with nothing posted), idempotent retries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from host.backoffice.centre import (
    BankAnswer,
    Condition,
    OrderRequest,
    ReleaseBy,
    SettlementCentre,
    Tier,
    TierSettings,
)
from host.backoffice.centre.errors import (
    BankUnavailableError,
    CentreRefusedError,
    OrderRefusedError,
    ReleaseRefusedError,
)
from host.backoffice.centre.release_codes import MAX_TRIES
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.outbox import undelivered
from tests.backoffice.backoffice_helpers import check_invariants
from tests.backoffice.centre_helpers import (
    ADDRESS,
    CAP,
    LINE,
    T0,
    bank_debited,
    make_centre,
    topup_totals,
    transfer_count,
)


@pytest.fixture
def centre(db_url: str) -> Iterator[SettlementCentre]:
    made = make_centre(db_url)
    yield made
    check_invariants(made.db)
    made.close()


def order(order_id: str, amount: int, condition: Condition = Condition.ACCEPTANCE, *,
          holder: str = "C1", merchant: str = "M1", address: str = ADDRESS,
          release_at: datetime | None = None) -> OrderRequest:
    return OrderRequest(order_id, holder, merchant, amount, condition, address,
                        T0 + timedelta(days=30), release_at)


def tiers(centre: SettlementCentre, holder: str = "C1") -> tuple[int, int, int]:
    shown = centre.balances(holder)
    return (shown["virtual"]["posted"], shown["virtual"]["pending_out"],
            shown["settlement"]["posted"])


def test_opening_fills_the_settlement_account_to_its_cap_from_the_bank(
        centre: SettlementCentre) -> None:
    assert tiers(centre) == (0, 0, CAP)
    assert topup_totals(centre, "C1") == {"completed": CAP}
    assert bank_debited(centre, "C1") == CAP
    again = centre.open_account("C1", TierSettings(CAP, 100_000, LINE), bank_account="BK-C1",
                                addresses=[ADDRESS], at=T0)
    assert again == "exists" and bank_debited(centre, "C1") == CAP
    with pytest.raises(IdReusedError):
        centre.open_account("C1", TierSettings(CAP + 1, 100_000, LINE), bank_account="BK-C1",
                            addresses=[ADDRESS], at=T0)


def test_a_release_repays_from_settlement_and_the_bank_tops_it_up_to_exactly_the_cap(
        centre: SettlementCentre) -> None:
    centre.place_order(order("O1", 450_000), at=T0)
    assert tiers(centre) == (0, 450_000, CAP)
    outcome = centre.release("O1", "r1", by=ReleaseBy.HOLDER, at=T0)
    assert (outcome.moved, outcome.repaid) == (450_000, 450_000)
    assert tiers(centre) == (0, 0, CAP)  # 500,000 - 450,000 < threshold: topped up to the cap
    [paid] = undelivered(centre.db, recipient_id="M1")  # the merchant's payment result
    assert (paid.kind.value, paid.body["amount"], paid.body["held"]) == ("order_released",
                                                                       450_000, 0)
    assert topup_totals(centre, "C1") == {"completed": CAP + 450_000}
    assert bank_debited(centre, "C1") == CAP + 450_000


def test_no_top_up_while_the_balance_stays_at_or_above_the_threshold(
        centre: SettlementCentre) -> None:
    centre.place_order(order("O1", CAP - 100_000), at=T0)
    centre.release("O1", "r1", by=ReleaseBy.HOLDER, at=T0)
    assert tiers(centre) == (0, 0, 100_000)
    assert topup_totals(centre, "C1") == {"completed": CAP}


def test_a_manual_top_up_never_takes_the_account_over_its_cap(centre: SettlementCentre) -> None:
    with pytest.raises(CentreRefusedError, match="at its cap"):
        centre.topup("C1", at=T0)
    centre.transfer("C1", "t1", Tier.SETTLEMENT, Tier.VIRTUAL, 300_000, at=T0)
    assert tiers(centre) == (300_000, 0, 200_000)  # 200,000 >= threshold: no auto top-up
    with pytest.raises(CentreRefusedError, match="over its cap"):
        centre.topup("C1", amount=300_001, at=T0)
    made = centre.topup("C1", at=T0)
    assert (made.amount, made.state) == (300_000, "completed") and tiers(centre)[2] == CAP


def test_a_refused_top_up_is_failed_with_a_notice_never_silent(db_url: str) -> None:
    centre = make_centre(db_url, deposit=CAP + 10_000)
    centre.place_order(order("O1", 450_000), at=T0)
    centre.release("O1", "r1", by=ReleaseBy.HOLDER, at=T0)
    assert topup_totals(centre, "C1") == {"completed": CAP, "failed": 450_000}
    assert tiers(centre) == (0, 0, 50_000)
    [notice] = [m for m in undelivered(centre.db) if m.kind.value == "topup_failed"]
    assert notice.recipient_id == "C1" and notice.body["reason"] == "insufficient funds"
    check_invariants(centre.db)
    centre.close()


class _Outage:
    """A bank that does not answer until it is back."""

    def __init__(self, inner: object) -> None:
        self.inner, self.down, self.asked = inner, True, 0

    def debit(self, request_id: str, bank_account: str, amount: int, *,
              at: datetime) -> BankAnswer:
        self.asked += 1
        if self.down:
            raise BankUnavailableError("gateway timed out")
        return self.inner.debit(request_id, bank_account, amount, at=at)  # type: ignore[attr-defined]


def test_a_top_up_the_bank_did_not_answer_is_asked_again_once(centre: SettlementCentre) -> None:
    outage = _Outage(centre.bank)
    flaky = SettlementCentre(centre.db, bank=outage)
    flaky.place_order(order("O1", 450_000), at=T0)
    flaky.release("O1", "r1", by=ReleaseBy.HOLDER, at=T0)
    [waiting] = [t for t in flaky.topups("C1") if t.state == "requested"]
    assert waiting.amount == 450_000 and "unavailable" in (waiting.failure or "")
    shown = flaky.balances("C1")["settlement"]
    assert (shown["posted"], shown["pending_in"]) == (50_000, 450_000)
    flaky.place_order(order("O2", 10_000), at=T0)
    flaky.release("O2", "r1", by=ReleaseBy.HOLDER, at=T0)
    # the pending 450,000 is counted: only the new shortfall is asked for
    assert [t.amount for t in flaky.topups("C1")] == [CAP, 450_000, 10_000]
    outage.down = False
    assert [t.state for t in flaky.retry_topups(at=T0)] == ["completed", "completed"]
    assert flaky.retry_topups(at=T0) == []
    assert outage.asked == 4
    assert bank_debited(centre, "C1") == CAP + 460_000
    assert tiers(centre) == (0, 0, CAP)


def test_a_release_code_locks_after_its_tries_and_the_holder_can_still_accept(
        centre: SettlementCentre) -> None:
    _, code, status = centre.place_order(order("O1", 10_000, Condition.CODE), at=T0)
    assert status == "created" and code is not None and len(code) == 6
    wrong = "000000" if code != "000000" else "111111"
    for attempt in range(MAX_TRIES):
        with pytest.raises(ReleaseRefusedError, match="wrong release code"):
            centre.release("O1", f"w{attempt}", by=ReleaseBy.CODE, code=wrong, at=T0)
    with pytest.raises(ReleaseRefusedError, match="locked"):
        centre.release("O1", "right", by=ReleaseBy.CODE, code=code, at=T0)
    assert centre.order("O1").code_locked
    assert [m.kind.value for m in undelivered(centre.db)].count("release_code_locked") == 1
    assert centre.release("O1", "ok", by=ReleaseBy.HOLDER, at=T0).moved == 10_000


def test_a_wrong_code_repeated_under_one_request_id_counts_once(
        centre: SettlementCentre) -> None:
    _, code, _ = centre.place_order(order("O1", 10_000, Condition.CODE), at=T0)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        with pytest.raises(ReleaseRefusedError):
            centre.release("O1", "same", by=ReleaseBy.CODE, code=wrong, at=T0)
    assert centre.order("O1").code_tries == 1
    assert centre.release("O1", "good", by=ReleaseBy.CODE, code=code, at=T0).moved == 10_000


def test_partial_releases_then_the_rest_and_a_hold_ends_exactly_once(
        centre: SettlementCentre) -> None:
    centre.place_order(order("O1", 90_000), at=T0)
    assert centre.release("O1", "p1", by=ReleaseBy.HOLDER, amount=30_000, at=T0).moved == 30_000
    assert centre.release("O1", "p1", by=ReleaseBy.HOLDER, amount=30_000, at=T0).moved == 30_000
    assert centre.order("O1").held == 60_000
    with pytest.raises(ValidationError, match="more than"):
        centre.release("O1", "p2", by=ReleaseBy.HOLDER, amount=60_001, at=T0)
    assert centre.release("O1", "p3", by=ReleaseBy.HOLDER, at=T0).moved == 60_000
    assert transfer_count(centre, "sc:order:O1:post") == 2
    with pytest.raises(ReleaseRefusedError, match="already released"):
        centre.release("O1", "p4", by=ReleaseBy.HOLDER, at=T0)
    with pytest.raises(ReleaseRefusedError, match="already released"):
        centre.void("O1", "v1", at=T0)
    assert centre.ledger.account("M1:cny").balance.posted == 90_000


def test_a_voided_order_returns_what_is_held_and_cannot_be_released(
        centre: SettlementCentre) -> None:
    centre.place_order(order("O1", 90_000), at=T0)
    centre.release("O1", "p1", by=ReleaseBy.HOLDER, amount=20_000, at=T0)
    assert centre.void("O1", "v1", at=T0).moved == 70_000
    assert centre.void("O1", "v1", at=T0).moved == 70_000  # the same request, answered again
    with pytest.raises(ReleaseRefusedError, match="voided"):
        centre.release("O1", "p2", by=ReleaseBy.HOLDER, at=T0)
    assert tiers(centre)[1] == 0 and centre.ledger.account("M1:cny").balance.posted == 20_000


def test_a_date_order_is_released_at_its_date_and_an_order_expires(
        centre: SettlementCentre) -> None:
    centre.place_order(order("D1", 20_000, Condition.DATE, release_at=T0 + timedelta(days=5)),
                       at=T0)
    centre.place_order(order("X1", 30_000), at=T0)
    with pytest.raises(ReleaseRefusedError, match="not due"):
        centre.release("D1", "early", by=ReleaseBy.DATE, at=T0)
    assert centre.run_due(at=T0 + timedelta(days=4)) == {"released": [], "expired": []}
    assert centre.run_due(at=T0 + timedelta(days=5)) == {"released": ["D1"], "expired": []}
    assert centre.run_due(at=T0 + timedelta(days=31)) == {"released": [], "expired": ["X1"]}
    assert centre.order("X1").state.value == "expired" and tiers(centre)[1] == 0
    with pytest.raises(ReleaseRefusedError, match="expired"):
        centre.release("X1", "late", by=ReleaseBy.HOLDER, at=T0 + timedelta(days=31))


@pytest.mark.parametrize(("request_", "reason"), [
    (order("B1", 10_000, address="1 Elsewhere"), "address_not_on_file"),
    (order("B2", LINE + 1), "over_credit_line"),
    (order("B3", 10_000, merchant="NOBODY"), "unknown_merchant"),
    (order("B4", 10_000, merchant="C2"), "unknown_merchant"),
])
def test_the_authentication_centre_refuses_with_its_reason_and_posts_nothing(
        centre: SettlementCentre, request_: OrderRequest, reason: str) -> None:
    before = transfer_count(centre, "")
    with pytest.raises(OrderRefusedError) as refused:
        centre.place_order(request_, at=T0)
    assert refused.value.reason == reason and transfer_count(centre, "") == before


@pytest.mark.parametrize("amount", [0, -1, 1.5, True])
def test_bad_amounts_are_refused_before_anything_is_posted(
        centre: SettlementCentre, amount: object) -> None:
    before = transfer_count(centre, "")
    with pytest.raises(ValidationError):
        order("B1", amount)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        centre.transfer("C1", "t", Tier.SETTLEMENT, Tier.VIRTUAL, amount, at=T0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        centre.topup("C1", amount=amount, at=T0)  # type: ignore[arg-type]
    assert transfer_count(centre, "") == before


def test_unknown_holders_and_orders_are_named(centre: SettlementCentre) -> None:
    with pytest.raises(NotFoundError, match="NOBODY"):
        centre.balances("NOBODY")
    with pytest.raises(NotFoundError, match="O404"):
        centre.release("O404", "r", by=ReleaseBy.HOLDER, at=T0)


def test_an_order_placed_twice_is_held_once(centre: SettlementCentre) -> None:
    assert centre.place_order(order("O1", 10_000), at=T0)[2] == "created"
    assert centre.place_order(order("O1", 10_000), at=T0)[2] == "exists"
    assert tiers(centre)[1] == 10_000
    with pytest.raises(IdReusedError):
        centre.place_order(order("O1", 10_001), at=T0)


def test_a_batch_of_orders_is_held_whole_or_not_at_all_and_released_in_one_go(
        centre: SettlementCentre) -> None:
    from host.backoffice.centre.escrow import ReleaseItem

    batch = [order(f"B{n}", 10_000 + n, holder=("C1", "C2")[n % 2]) for n in range(6)]
    with pytest.raises(OrderRefusedError, match="not on file"):
        centre.place_orders([*batch, order("BX", 1, address="nowhere")], at=T0)
    assert transfer_count(centre, "sc:order") == 0
    assert [s for _, _, s in centre.place_orders(batch, at=T0)] == ["created"] * 6
    assert [s for _, _, s in centre.place_orders(batch, at=T0)] == ["exists"] * 6
    items = [ReleaseItem(f"B{n}", "r", 5_000 if n == 0 else None) for n in range(6)]
    outcomes = centre.release_orders(items, by=ReleaseBy.HOLDER, at=T0)
    assert [o.moved for o in outcomes] == [5_000, *(10_000 + n for n in range(1, 6))]
    again = centre.release_orders(items, by=ReleaseBy.HOLDER, at=T0)
    assert [o.moved for o in again] == [o.moved for o in outcomes] and all(o.repeated for o in again)
    assert centre.ledger.account("M1:cny").balance.posted == sum(o.moved for o in outcomes)
    assert centre.order("B0").held == 5_000
    with pytest.raises(ValidationError, match="twice"):
        centre.release_orders([ReleaseItem("B0", "x"), ReleaseItem("B0", "y")],
                              by=ReleaseBy.HOLDER, at=T0)
