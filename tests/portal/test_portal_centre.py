"""The settlement centre's pages and the notice inbox over HTTP: a holder's three tiers,
bills, orders and spending against the centre's own answers, a merchant's orders to
release, the inbox shown once as new, and nobody seeing another party's rows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from host.backoffice.assets import Asset
from host.backoffice.centre import SettlementCentre
from host.backoffice.centre.tables import sc_holders
from host.backoffice.outbox import MessageKind
from host.backoffice.transfers import Reason
from host.portal.app import PATH
from host.portal.i18n import CATALOGUE
from host.service.notices.schema import svc_inbox

from .conftest import ADDRESS, Alliance, open_alliance

PAGES = {"/me/centre": ("zhang", "li"), "/merchant/orders": ("shop-a", "shop-b"),
         "/notices": ("zhang", "li", "shop-a", "shop-b", "insurer", "ops")}


def centre(alliance: Alliance) -> SettlementCentre:
    return SettlementCentre(alliance.office.db)


def shown(html: str, attribute: str, key: str) -> str:
    found = re.search(rf'{attribute}="{re.escape(key)}">([^<]*)<', html)
    assert found, f"no {attribute}={key} in the page"
    return found.group(1).strip()


def fen(amount: int) -> str:
    return f"{amount / 100:,.2f}"


@pytest.mark.parametrize("login", ["zhang", "shop-a", "insurer", "ops"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_role_reaches_its_centre_pages_only(alliance: Alliance, login: str,
                                                 lang: str) -> None:
    client = alliance.logged_in(login)
    client.cookies.set("portal_lang", lang)
    for path, logins in PAGES.items():
        assert client.get(PATH + path).status_code == (200 if login in logins else 404), path


def test_the_holder_s_tiers_are_the_centre_s_balances(alliance: Alliance) -> None:
    html = alliance.logged_in("zhang").get(f"{PATH}/me/centre").text
    tiers = centre(alliance).balances("zhang")
    assert shown(html, "data-tier", "virtual") == fen(tiers["virtual"]["posted"])
    assert shown(html, "data-tier", "settlement") == fen(tiers["settlement"]["posted"])
    assert shown(html, "data-tier", "bank") == fen(tiers["bank"]["posted"])
    assert tiers["virtual"]["pending_out"] == 60_000  # ORD-A1, held for its code
    holder = centre(alliance).holder("zhang")
    client = alliance.logged_in("zhang")
    for account in (holder.virtual, holder.settlement):  # the transfers, by the history page
        assert f'href="{PATH}/history/{quote(account)}"' in html
        assert client.get(f"{PATH}/history/{account}").status_code == 200
        assert alliance.logged_in("li").get(f"{PATH}/history/{account}").status_code == 404


def test_the_holder_s_orders_bills_and_spending(alliance: Alliance) -> None:
    html = alliance.logged_in("zhang").get(f"{PATH}/me/centre").text
    assert shown(html, "data-order", "ORD-A1") == "held"
    assert shown(html, "data-held", "ORD-A1") == fen(centre(alliance).order("ORD-A1").remaining)
    assert "the holder&#39;s code is given on delivery" in html
    assert shown(html, "data-order", "ORD-A2") == "released"
    assert "3301-0042" in html
    months = centre(alliance).spending("zhang")["months"]
    assert months, "the fixture spent money"
    for month, spent in months.items():
        for category, amount in spent.items():
            assert shown(html, "data-spent", f"{month}/{category}") == fen(amount)
    assert {c for spent in months.values() for c in spent} == {"water", "dining"}
    assert "ORD-B1" not in html  # LI's order
    assert alliance.facts["code"] not in html  # the release code is the holder's phone's only


def test_a_holder_without_tiers_is_told_so(alliance: Alliance) -> None:
    with alliance.office.db.write() as conn:
        conn.execute(sc_holders.delete().where(sc_holders.c.holder_id == "li"))
    html = alliance.logged_in("li").get(f"{PATH}/me/centre").text
    assert "No accounts at the settlement centre." in html


def test_the_merchant_sees_its_orders_and_their_conditions(alliance: Alliance) -> None:
    html = alliance.logged_in("shop-a").get(f"{PATH}/merchant/orders").text
    assert shown(html, "data-order", "ORD-A1") == "held"
    assert shown(html, "data-held", "ORD-A1") == "600.00"
    assert "ORD-B1" not in html and ADDRESS not in html
    other = alliance.logged_in("shop-b").get(f"{PATH}/merchant/orders").text
    assert shown(other, "data-order", "ORD-B1") == "held" and "ORD-A1" not in other
    assert "on 20" in other  # released on its date


def test_the_inbox_shows_a_notice_as_new_once(alliance: Alliance) -> None:
    client = alliance.logged_in("zhang")
    first = client.get(f"{PATH}/notices").text
    fresh = re.findall(r'data-notice="(ntc_\d+)">New<', first)
    assert fresh and "order paid to the merchant" in first
    second = client.get(f"{PATH}/notices").text
    assert re.findall(r'data-notice="(ntc_\d+)">New<', second) == []
    assert all(f'data-notice="{n}"' in second for n in fresh)  # still listed, not new


@pytest.mark.parametrize(("login", "member"), [("zhang", "zhang"), ("li", "li"),
                                                ("shop-a", "shop-a"), ("ops", "alliance")])
def test_an_inbox_shows_its_member_s_notices_only(alliance: Alliance, login: str,
                                                  member: str) -> None:
    with alliance.office.db.read() as conn:
        rows = conn.execute(select(svc_inbox.c.notice_seq, svc_inbox.c.recipient_id)).all()
    assert len({r.recipient_id for r in rows}) > 1
    mine = {f"ntc_{r.notice_seq}" for r in rows if r.recipient_id == member}
    html = alliance.logged_in(login).get(f"{PATH}/notices").text
    assert set(re.findall(r'data-notice="(ntc_\d+)"', html)) == mine


def test_every_notice_kind_reason_and_asset_has_its_words() -> None:
    assert {f"notice_{kind.value}" for kind in MessageKind} <= set(CATALOGUE)
    assert {f"reason_{reason.value}" for reason in Reason} <= set(CATALOGUE)
    assert {f"asset_{asset.value}" for asset in Asset} <= set(CATALOGUE)


def test_the_insurer_s_money_history_reads_as_money(alliance: Alliance) -> None:
    html = alliance.logged_in("insurer").get(f"{PATH}/history/insurer:cny").text
    assert "insurance premium" in html and "3.00" in html


def test_the_inbox_is_served_from_a_database_in_memory(sim_card: Any, tmp_path: Path) -> None:
    """A page that writes (the inbox marks what it showed) works on an in-memory SQLite
    database too, whose one connection serves every transaction: there a page does not
    run inside one read transaction."""
    for alliance in open_alliance(sim_card, tmp_path, "sqlite://"):
        client = alliance.logged_in("zhang")
        assert client.get(f"{PATH}/notices").status_code == 200
        assert client.get(f"{PATH}/me").status_code == 200
