"""Members, agreements, notices and the database URL: idempotent registration, explicit
rounding in the points calculation unit, outbox delivery, URL handling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from host.backoffice import Agreement, Asset, IdReusedError, Member, MemberKind, Ratio, Rounding
from host.backoffice.agreements import AgreementBook
from host.backoffice.clock import FixedClock, from_micros, to_micros
from host.backoffice.database import Database, as_url, default_url
from host.backoffice.errors import ConfigurationError, NotFoundError, ValidationError
from host.backoffice.outbox import mark_delivered, undelivered
from host.testing.postgres import ENV_URL, postgres_url
from tests.backoffice.backoffice_helpers import T0, SampleAlliance


def test_registering_again_is_exists_and_terminals_can_be_added(alliance: SampleAlliance) -> None:
    office = alliance.office
    tea = office.member("TEA")
    assert office.add_member(tea, at=T0) == "exists"
    more = Member("TEA", MemberKind.MERCHANT, tea.name, T0, two_way=tea.two_way,
                  terminals=(*tea.terminals, "0000000000A2"))
    assert office.add_member(more, at=T0) == "updated"
    assert office.member("TEA").terminals == ("0000000000A1", "0000000000A2")
    renamed = Member("TEA", MemberKind.MERCHANT, "Other", T0, two_way=tea.two_way)
    with pytest.raises(IdReusedError, match="name"):
        office.add_member(renamed, at=T0)


@pytest.mark.parametrize(
    "member",
    [
        Member("X1", MemberKind.CONSUMER, "no card", T0),
        Member("X2", MemberKind.MERCHANT, "no rule", T0),
        Member("X3", MemberKind.BANK, "bank with card", T0, card_id="CARD7777"),
        Member("alliance", MemberKind.BANK, "impostor", T0),
        Member("bad id!", MemberKind.INSURER, "x", T0),
        Member("X4", MemberKind.MERCHANT, "bad terminal", T0, two_way=Ratio(1, 10),
               terminals=("XYZ",)),
        Member("X5", MemberKind.BANK, "bank with a two-way rule", T0, two_way=Ratio(1, 10)),
        Member("X6", MemberKind.CONSUMER, "consumer with a till", T0, card_id="CARD7778",
               terminals=("0000000000B9",)),
    ],
)
def test_members_are_validated(alliance: SampleAlliance, member: Member) -> None:
    with pytest.raises(ValidationError):
        alliance.office.add_member(member, at=T0)


def test_banks_and_insurers_have_terminals_of_their_own(alliance: SampleAlliance) -> None:
    """Points become money at a bank's counter and pay a premium at an insurer's: their
    terminals are registered like a merchant's, each acting for its own member."""
    office = alliance.office
    for member_id, kind, terminal in (("BANK2", MemberKind.BANK, "0000000000E1"),
                                      ("INS2", MemberKind.INSURER, "0000000000E2")):
        assert office.add_member(Member(member_id, kind, member_id, T0, terminals=(terminal,)),
                                 at=T0) == "created"
        assert office.member(member_id).terminals == (terminal,)


def test_a_terminal_belongs_to_one_merchant(alliance: SampleAlliance) -> None:
    other = Member("SHOP", MemberKind.MERCHANT, "Shop", T0, two_way=Ratio(1, 10),
                   terminals=("0000000000A1",))
    with pytest.raises(ValidationError, match="belongs to TEA"):
        alliance.office.add_member(other, at=T0)


@pytest.mark.parametrize(
    ("rounding", "points"),
    [(Rounding.DOWN, 123), (Rounding.HALF_UP, 124), (Rounding.UP, 124)],
)
def test_points_calculation_unit_rounds_as_agreed(rounding: Rounding, points: int) -> None:
    agreement = Agreement("A", "M", "g", Asset.CONSUMPTION_POINTS, 1, 100, rounding, T0)
    assert agreement.points_for(12_350) == points  # 123.5 points
    assert agreement.points_for(0) == 0


def test_agreements_are_checked_and_idempotent(alliance: SampleAlliance) -> None:
    office = alliance.office
    [tea] = office.agreements("TEA")
    assert office.add_agreement(tea, at=T0) == "exists"
    with pytest.raises(IdReusedError, match="points"):
        office.add_agreement(Agreement(tea.id, "TEA", "standard", Asset.CONSUMPTION_POINTS, 2,
                                       100, Rounding.DOWN, tea.valid_from), at=T0)
    with pytest.raises(ValidationError, match="issued by a bank"):
        office.add_agreement(Agreement("X", "TEA", "standard", Asset.BANK_POINTS, 1, 100,
                                       Rounding.DOWN, T0), at=T0)
    with pytest.raises(NotFoundError):
        office.add_agreement(Agreement("Y", "NOBODY", "standard", Asset.CONSUMPTION_POINTS, 1,
                                       100, Rounding.DOWN, T0), at=T0)
    with pytest.raises(ValidationError):
        Agreement("Z", "TEA", "g", Asset.CONSUMPTION_POINTS, 1, 100, Rounding.DOWN, T0, T0)


def test_a_newer_agreement_takes_over_from_its_start(alliance: SampleAlliance) -> None:
    office = alliance.office
    office.add_agreement(Agreement("TEA-DOUBLE", "TEA", "standard", Asset.CONSUMPTION_POINTS,
                                   2, 100, Rounding.DOWN, T0 + timedelta(days=7)), at=T0)
    book = AgreementBook(office.agreements("TEA"))
    now, later = to_micros(T0), to_micros(T0 + timedelta(days=8))
    assert book.find("TEA", "standard", Asset.CONSUMPTION_POINTS, now).id == "TEA-STD"
    assert book.find("TEA", "standard", Asset.CONSUMPTION_POINTS, later).id == "TEA-DOUBLE"
    with pytest.raises(NotFoundError):
        book.find("TEA", "gold", Asset.CONSUMPTION_POINTS, now)


def test_outbox_delivery(alliance: SampleAlliance) -> None:
    office = alliance.office
    office.review_credit(at=T0)  # nothing to raise: no notices
    assert undelivered(office.db) == []
    alliance.terminal("0000000000A1").load("CARD0001", 1_000, 100_000, T0)
    office.clear(alliance.terminal("0000000000A1").close_batch("N1"), at=T0)
    waiting = undelivered(office.db)
    assert {m.recipient_id for m in waiting} == {"C001", "TEA"}
    assert mark_delivered(office.db, [m.seq for m in waiting], at=T0) == 2
    assert mark_delivered(office.db, [m.seq for m in waiting], at=T0) == 0
    assert undelivered(office.db) == []


def test_database_urls(tmp_path, monkeypatch) -> None:
    assert as_url("x.sqlite3") == "sqlite:///x.sqlite3"
    assert as_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    monkeypatch.delenv("DUALCARD_DB", raising=False)
    assert default_url() == "sqlite:///dualcard.sqlite3"
    monkeypatch.setenv("DUALCARD_DB", str(tmp_path / "a.db"))
    assert default_url() == f"sqlite:///{tmp_path / 'a.db'}"
    for bad in ("mysql://x/y", "::not a url::"):
        with pytest.raises(ConfigurationError):
            Database(bad if "://" in bad else "foo://" + bad)


def test_the_test_server_url_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(ENV_URL, "postgresql+psycopg://someone@db/test")
    assert postgres_url() == ("postgresql+psycopg://someone@db/test", None)


def test_clocks_and_time_encoding() -> None:
    clock = FixedClock(T0)
    assert clock.now() == T0
    assert clock.advance(timedelta(seconds=1)) == T0 + timedelta(seconds=1)
    assert from_micros(to_micros(T0)) == T0
    assert to_micros(T0 + timedelta(microseconds=1)) - to_micros(T0) == 1
    with pytest.raises(ValidationError):
        FixedClock(T0.replace(tzinfo=None))
