"""The issuer's PIN record: a card issued with a 4-digit PIN leaves its PVV (and PVKI) in the
number store, never the PIN; an older store gains the columns when opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, Table, create_engine, select

from apdu_specs.crypto.cvv import pvv
from host.perso import HolderRecord, NumberStore, Personaliser, load_profile
from host.perso.numbering import numbers_metadata, perso_cards, pin_check_of
from host.perso.plan import PINCheck

from .perso_helpers import PROFILE, connect, fresh_card


def test_a_plan_carries_the_pvv_of_a_four_digit_pin_only(perso: Personaliser,
                                                         holders: list[HolderRecord]) -> None:
    plan = perso.plan(holders[0], pin="4524")
    pvk = perso.keys.payment_keys.pvk
    pvki = perso.profile.magstripe.pvki
    assert plan.pin_check == PINCheck(pvki, pvv(pvk, plan.card.pan, pvki, "4524"))
    assert perso.plan(holders[0], pin="452412").pin_check is None  # the PVV holds 4 digits


@pytest.mark.sim
def test_an_issued_card_leaves_its_pvv_in_the_store_and_never_its_pin(
        perso: Personaliser, holders: list[HolderRecord], tmp_path: Path) -> None:
    plan = perso.plan(holders[0], pin="8305")
    perso.personalise(plan, connect(fresh_card(plan.card.card_id)))
    assert perso.numbers is not None
    with perso.numbers.db.read() as conn:
        found = pin_check_of(conn, plan.card.card_id)
        row = conn.execute(select(perso_cards)
                           .where(perso_cards.c.card_id == plan.card.card_id)).one()
    assert found == (plan.card.pan, plan.pin_check)
    assert plan.pin_check is not None and found[1].pvv.isdigit()
    assert "8305" not in {str(v) for k, v in row._mapping.items() if k != "pvv"}


def test_a_card_not_issued_or_without_a_pvv_has_no_pin_record(db_url: str) -> None:
    profile = load_profile(PROFILE)
    with NumberStore(db_url) as store:
        numbers = store.allocate(profile, [HolderRecord(0, "A/B", "H-1"),
                                           HolderRecord(1, "C/D", "H-2")], "batch:pvv")
        store.mark_issued(numbers[1].card_id)  # issued with a 6-digit PIN: no PVV
        with store.db.read() as conn:
            assert pin_check_of(conn, numbers[0].card_id) is None  # allocated only
            assert pin_check_of(conn, numbers[1].card_id) is None
            assert pin_check_of(conn, "9999999999999999") is None
        store.mark_issued(numbers[1].card_id, PINCheck("1", "0421"))  # its PIN issued again
        with store.db.read() as conn:
            assert pin_check_of(conn, numbers[1].card_id) == (numbers[1].pan,
                                                              PINCheck("1", "0421"))


def test_a_store_made_before_the_pvv_columns_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = MetaData()
    for table in numbers_metadata.sorted_tables:
        Table(table.name, old, *(Column(c.name, c.type, primary_key=c.primary_key,
                                        nullable=c.nullable)
                                 for c in table.columns if c.name not in ("pvki", "pvv")))
    engine = create_engine(f"sqlite:///{path}")
    old.create_all(engine)
    engine.dispose()
    with NumberStore(path) as store:
        [numbers] = store.allocate(load_profile(PROFILE), [HolderRecord(0, "A/B", "H-1")],
                                   "run").values()
        store.mark_issued(numbers.card_id, PINCheck("1", "7777"))
        with store.db.read() as conn:
            assert pin_check_of(conn, numbers.card_id) == (numbers.pan, PINCheck("1", "7777"))
