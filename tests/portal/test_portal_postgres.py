"""The portal on PostgreSQL: the same pages, sessions, throttling and codes as on SQLite."""

from __future__ import annotations

import pytest

from host.backoffice.prepaid import PrepaidOffice
from host.portal.app import PATH, SESSION_COOKIE

from .conftest import PASSWORDS, Alliance, csrf_of, login_as
from .test_portal_centre import PAGES as CENTRE_PAGES
from .test_portal_http import HOMES, _reset, balance, cell
from .test_portal_http import test_the_history_says_why_points_moved as _history
from .test_portal_prepaid import PAGES as PREPAID_PAGES
from .test_portal_terminals import test_bad_enrolments_say_why_and_write_nothing as _bad
from .test_portal_terminals import test_the_operator_blocks_and_unblocks_with_a_reason as _blocks
from .test_portal_terminals import test_the_operator_enrols_a_terminal_and_sees_its_key_once as _enrols

pytestmark = pytest.mark.postgres


def test_each_role_s_pages_on_postgresql(pg_alliance: Alliance) -> None:
    for login, home in HOMES.items():
        assert pg_alliance.logged_in(login).get(PATH + home).status_code == 200, login
    html = pg_alliance.logged_in("insurer").get(f"{PATH}/insurer").text
    assert cell(html, "premium-total") == f"{balance(pg_alliance, 'insurer:cny') / 100:,.2f}"
    shop_b = pg_alliance.logged_in("shop-b")
    assert shop_b.get(f"{PATH}/history/shop-a:points_issued").status_code == 404


def test_the_history_on_postgresql(pg_alliance: Alliance) -> None:
    _history(pg_alliance)


def test_throttling_sessions_and_codes_on_postgresql(pg_alliance: Alliance) -> None:
    client = pg_alliance.client()
    for _ in range(pg_alliance.portal.accounts.throttle.per_account):
        assert login_as(client, "zhang", "wrong-password").status_code == 401
    assert login_as(client, "zhang", PASSWORDS["zhang"]).status_code == 429
    session = pg_alliance.logged_in("li")
    code = pg_alliance.portal.accounts.issue_reset_code("li")
    assert _reset(pg_alliance.client(), "li", code, "reset-password-1").status_code == 200
    assert session.get(f"{PATH}/me").status_code == 303
    assert SESSION_COOKIE not in pg_alliance.client().cookies


def test_the_prepaid_centre_and_inbox_pages_on_postgresql(pg_alliance: Alliance) -> None:
    for path, logins in {**PREPAID_PAGES, **CENTRE_PAGES}.items():
        for login in logins:
            assert pg_alliance.logged_in(login).get(PATH + path).status_code == 200, (path, login)
    insurer = pg_alliance.logged_in("insurer")
    token = csrf_of(insurer.get(f"{PATH}/insurer/prepaid").text)
    decide = {"csrf": token, "decision": "reject", "note": ""}
    assert insurer.post(f"{PATH}/insurer/claim/CLM-B", data=decide).status_code == 404
    assert insurer.post(f"{PATH}/insurer/claim/CLM-A", data=decide).status_code == 303
    assert PrepaidOffice(pg_alliance.office.db).claim("CLM-A")["state"] == "rejected"


def test_enrolling_and_blocking_a_terminal_on_postgresql(pg_alliance: Alliance) -> None:
    _enrols(pg_alliance)
    _blocks(pg_alliance)
    _bad(pg_alliance, "0000000a0001", "shop-b", 409, "This terminal id is enrolled already.")
