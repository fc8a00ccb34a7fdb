"""Registered and anonymous per-card caps, and the insurer's premium rate table: the split
under the holder kind's cap, the kind recorded on each card, each policy priced by the one
row covering it (bands included at both ends), and bad input refused with nothing posted."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select

from host.backoffice.database import Database
from host.backoffice.errors import IdReusedError, ValidationError
from host.backoffice.prepaid import HolderKind, PrepaidOffice, Program, ProgramKind, RateRow
from host.backoffice.prepaid.errors import NoRateError
from host.backoffice.prepaid.premiums import premium
from host.backoffice.prepaid.rates import RateTable
from host.backoffice.prepaid.schema import pp_cards, pp_policies
from host.backoffice.schema import ledger_transfers
from tests.prepaid.prepaid_helpers import CAP, T0, Sample

ANONYMOUS, REGISTERED = HolderKind.ANONYMOUS, HolderKind.REGISTERED


def _program(**rules: object) -> Program:
    return Program("P", "M", ProgramKind.BONUS, rules.pop("card_cap", CAP), "PICC",  # type: ignore[arg-type]
                   **rules)  # type: ignore[arg-type]


# -- caps ------------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_program_has_both_caps_by_default_and_never_an_anonymous_one_above() -> None:
    assert (_program().card_cap, _program().cap(ANONYMOUS)) == (500_000, 100_000)
    assert _program(card_cap=50_000).cap(ANONYMOUS) == 50_000  # the lower of the two
    assert _program(anonymous_cap=200_000).cap(ANONYMOUS) == 200_000
    with pytest.raises(ValidationError, match=r"anonymous card cap .* above the registered"):
        _program(card_cap=100_000, anonymous_cap=100_001)
    for bad in (0, -1, True, "1000"):
        with pytest.raises(ValidationError, match="anonymous card cap must be"):
            _program(anonymous_cap=bad)
    with pytest.raises(ValidationError, match="registered card cap must be"):
        _program(card_cap=0)


@pytest.mark.unit
def test_an_anonymous_count_card_holds_whole_uses() -> None:
    count = {"uses": 10, "bonus_bp": 0}
    assert Program("P", "M", ProgramKind.COUNT, 100_000, "I", anonymous_cap=30_000,
                   **count).cap(ANONYMOUS) == 30_000  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="whole number of uses"):
        Program("P", "M", ProgramKind.COUNT, 100_000, "I", anonymous_cap=25_000,
                **count)  # type: ignore[arg-type]


def test_an_anonymous_purchase_splits_under_the_anonymous_cap(sample: Sample) -> None:
    answer = sample.prepaid.issue("A1", "GYM-FIT", "C001", 250_000, at=T0,
                                  holder_kind=ANONYMOUS)
    # GYM-FIT gives 10 % bonus: an anonymous card's principal is the most whose value with
    # its bonus stays within 1,000.00
    assert [c["principal"] for c in answer["cards"]] == [90_909, 90_909, 68_182]
    assert all(c["value"] <= 100_000 for c in answer["cards"])
    assert (answer["holder_kind"], answer["card_cap"]) == ("anonymous", 100_000)
    shown = sample.prepaid.balance("C001/GYM-FIT")["cards"]
    assert {c["holder_kind"] for c in shown} == {"anonymous"}
    registered = sample.prepaid.issue("R1", "GYM-FIT", "C002", 250_000, at=T0)
    assert len(registered["cards"]) == 1 and registered["holder_kind"] == "registered"


def test_the_holder_kind_is_part_of_the_request(sample: Sample) -> None:
    sample.prepaid.issue("A1", "GYM-FIT", "C001", 10_000, at=T0, holder_kind=ANONYMOUS)
    again = sample.prepaid.issue("A1", "GYM-FIT", "C001", 10_000, at=T0,
                                 holder_kind=ANONYMOUS)
    assert again["status"] == "exists"
    with pytest.raises(IdReusedError):
        sample.prepaid.issue("A1", "GYM-FIT", "C001", 10_000, at=T0)


def test_an_unknown_holder_kind_is_refused_and_nothing_posted(sample: Sample) -> None:
    before = _counts(sample)
    with pytest.raises(ValidationError, match="holder kind must be one of"):
        sample.prepaid.issue("A1", "GYM-FIT", "C001", 10_000, at=T0,
                             holder_kind="nobody")  # type: ignore[arg-type]
    assert _counts(sample) == before


# -- the rate table ----------------------------------------------------------------------------

#: PICC's table: small cards dearer, anonymous ones dearer still; terms beyond a year apart
TABLE = [
    RateRow("PICC", "SMALL", 1, 365, 0, 100_000, 120),
    RateRow("PICC", "LARGE-R", 1, 365, 100_001, 500_000, 80, REGISTERED),
    RateRow("PICC", "LARGE-A", 1, 365, 100_001, 500_000, 150, ANONYMOUS),
    RateRow("PICC", "LONG", 366, 730, 0, 500_000, 60),
]


@pytest.mark.unit
@pytest.mark.parametrize(("term", "insured", "kind", "row"), [
    (1, 0, REGISTERED, "SMALL"), (365, 100_000, ANONYMOUS, "SMALL"),
    (365, 100_001, REGISTERED, "LARGE-R"), (1, 500_000, ANONYMOUS, "LARGE-A"),
    (366, 1, REGISTERED, "LONG"), (730, 500_000, ANONYMOUS, "LONG"),
])
def test_each_boundary_is_priced_by_the_row_that_includes_it(
    term: int, insured: int, kind: HolderKind, row: str
) -> None:
    program = _program(term_days=term, premium_bp=999)
    rate, found = RateTable(TABLE).price(program, insured, kind)
    assert found == row and rate == next(r.rate_bp for r in TABLE if r.id == row)


@pytest.mark.unit
@pytest.mark.parametrize(("term", "insured"), [(731, 1), (365, 500_001)])
def test_a_card_outside_the_table_is_refused(term: int, insured: int) -> None:
    with pytest.raises(NoRateError, match="has no row"):
        RateTable(TABLE).price(_program(term_days=term), insured, REGISTERED)


@pytest.mark.unit
def test_an_insurer_without_a_table_prices_at_the_programs_rate() -> None:
    assert RateTable(TABLE).price(Program("P", "M", ProgramKind.BONUS, CAP, "OTHER",
                                          premium_bp=55), 1, ANONYMOUS) == (55, None)


@pytest.mark.unit
@given(st.integers(1, 800), st.integers(0, 500_000), st.sampled_from(HolderKind),
       st.integers(1, 800), st.integers(0, 500_000))
def test_rows_that_do_not_overlap_never_price_the_same_policy(
    term: int, insured: int, kind: HolderKind, term_to: int, insured_to: int
) -> None:
    new = RateRow("PICC", "NEW", 1, term_to, 0, insured_to, 10, kind)
    covering = [r for r in [*TABLE, new] if r.covers(term, insured, kind)]
    if not any(new.overlaps(r) for r in TABLE):
        assert len(covering) <= 1


@pytest.mark.unit
@pytest.mark.parametrize(("args", "words"), [
    ((0, 365, 0, 1, 10), "term"), ((10, 9, 0, 1, 10), "starts after it ends"),
    ((1, 365, -1, 1, 10), "sum insured"), ((1, 365, 0, 1, 10_001), "rate"),
])
def test_a_bad_row_is_refused(args: tuple[int, ...], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        RateRow("PICC", "BAD", *args)


def test_rows_are_defined_once_and_never_overlap(sample: Sample) -> None:
    for row in TABLE:
        assert sample.prepaid.add_rate(row, at=T0) == "created"
    assert sample.prepaid.add_rate(TABLE[0], at=T0) == "exists"
    with pytest.raises(IdReusedError):
        sample.prepaid.add_rate(RateRow("PICC", "SMALL", 1, 365, 0, 100_000, 121), at=T0)
    with pytest.raises(ValidationError, match="overlaps row LARGE-R"):
        sample.prepaid.add_rate(RateRow("PICC", "MID", 300, 400, 400_000, 600_000, 5,
                                        REGISTERED), at=T0)
    with pytest.raises(ValidationError, match="not an insurer"):
        sample.prepaid.add_rate(RateRow("GYM", "X", 1, 2, 0, 1, 5), at=T0)
    assert [r.id for r in sample.prepaid.rates("PICC")] == ["SMALL", "LARGE-A", "LARGE-R",
                                                             "LONG"]


def test_every_policy_is_priced_by_its_row_and_records_it(sample: Sample) -> None:
    for row in TABLE:
        sample.prepaid.add_rate(row, at=T0)
    registered = sample.prepaid.issue("R1", "GYM-FIT", "C001", 550_000, at=T0)
    anonymous = sample.prepaid.issue("A1", "GYM-FIT", "C002", 150_000, at=T0,
                                     holder_kind=ANONYMOUS)
    rows = {c["card"]: (c["rate_row"], c["rate_bp"], c["premium"], c["principal"])
            for c in registered["cards"] + anonymous["cards"]}
    assert [(r[0], r[3]) for r in rows.values()] == [
        ("LARGE-R", 454_546), ("SMALL", 95_454), ("SMALL", 90_909), ("SMALL", 59_091)]
    for _row, rate, cost, principal in rows.values():
        assert cost == premium(principal, rate, 365)
    listed = {p["card"]: (p["rate_row"], p["rate_bp"], p["premium"])
              for p in sample.prepaid.policies(insurer_id="PICC")}
    assert listed == {card: r[:3] for card, r in rows.items()}


def test_a_card_the_table_does_not_cover_posts_nothing(sample: Sample) -> None:
    sample.prepaid.add_rate(TABLE[0], at=T0)  # small cards only
    before = _counts(sample)
    with pytest.raises(NoRateError, match="has no row"):
        sample.prepaid.issue("R1", "GYM-FIT", "C001", 600_000, at=T0)
    assert _counts(sample) == before


def _counts(sample: Sample) -> tuple[int, ...]:
    with sample.prepaid.db.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (pp_cards, pp_policies, ledger_transfers))


def test_a_database_made_before_the_caps_and_rates_gains_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    old = Sample.create(url)
    old.prepaid.issue("R1", "GYM-FIT", "C001", 10_000, at=T0)
    with old.prepaid.db.write() as conn:  # the layout before: none of the new columns
        for table, column in (("pp_programs", "anonymous_cap"), ("pp_cards", "holder_kind"),
                              ("pp_policies", "rate_row")):
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.exec_driver_sql("DROP TABLE pp_rates")
    old.office.close()
    prepaid = PrepaidOffice(url)
    try:
        (card,) = prepaid.balance("C001/GYM-FIT")["cards"]
        assert card["holder_kind"] == "registered"  # what every card was before
        assert prepaid.programs()[0].cap(ANONYMOUS) == 100_000
        assert prepaid.issue("R1", "GYM-FIT", "C001", 10_000, at=T0)["status"] == "exists"
        prepaid.add_rate(TABLE[0], at=T0)
        anonymous = prepaid.issue("A1", "GYM-FIT", "C002", 10_000, at=T0,
                                  holder_kind=ANONYMOUS)
        assert anonymous["cards"][0]["rate_row"] == "SMALL"
        assert [p["rate_row"] for p in prepaid.policies()] == [None, "SMALL"]
    finally:
        prepaid.close()


def _has_column(db: Database, table: str, column: str) -> bool:
    with db.engine.connect() as conn:
        return column in {c["name"] for c in inspect(conn).get_columns(table)}


def test_each_database_object_brings_the_prepaid_tables_up_to_date_once(tmp_path: Path) -> None:
    """The database object remembers that its prepaid tables were checked (an office is
    made per request and looks once); a new object for the same file looks again."""
    url = f"sqlite:///{tmp_path / 'once.sqlite3'}"
    sample = Sample.create(url)
    db = sample.prepaid.db
    assert "prepaid" in db.up_to_date
    with db.write() as conn:  # behind the object's back: a column an older layout lacks
        conn.exec_driver_sql("ALTER TABLE pp_cards DROP COLUMN holder_kind")
    PrepaidOffice(db).programs()
    assert not _has_column(db, "pp_cards", "holder_kind")  # this object looked already
    fresh = Database(url)
    try:
        assert fresh.up_to_date == set()
        PrepaidOffice(fresh).programs()
        assert fresh.up_to_date == {"prepaid"}
        assert _has_column(fresh, "pp_cards", "holder_kind")
    finally:
        fresh.dispose()
        sample.office.close()
