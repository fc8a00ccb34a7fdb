"""The portal over HTTP: every route's status for each kind of visitor, what each role
sees against the ledger, and the attacks a login page meets (another party's ids in the
URL, forged forms, guessed passwords and codes, a planted session id, markup in names)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import httpx
import pytest
from sqlalchemy import select

from host.backoffice.clock import from_micros
from host.backoffice.schema import bo_authorisations, bo_settlements, ledger_accounts
from host.portal.app import CSRF_COOKIE, PATH, SESSION_COOKIE
from host.portal.auth import MIN_PASSWORD

from .conftest import (
    HOSTILE_HOLDER,
    HOSTILE_MERCHANT,
    PASSWORDS,
    Alliance,
    csrf_of,
    login_as,
)

HOMES = {"zhang": "/me", "li": "/me", "shop-a": "/merchant", "shop-b": "/merchant",
         "insurer": "/insurer", "ops": "/operator"}
PROTECTED = ["/me", "/merchant", "/insurer", "/operator", "/password",
             "/history/zhang:consumption_points", "/batch/x"]


def balance(alliance: Alliance, account: str) -> int:
    with alliance.office.db.read() as conn:
        row = conn.execute(select(ledger_accounts).where(ledger_accounts.c.id == account)).one()
    return int(row.credits_posted - row.debits_posted)


def cell(html: str, element_id: str) -> str:
    found = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', html)
    assert found, f"no #{element_id} in the page"
    return unescape(found.group(1)).strip()


# -- who may see what ---------------------------------------------------------------------


@pytest.mark.parametrize("path", PROTECTED)
def test_a_page_without_a_session_sends_the_visitor_to_the_login_form(
        alliance: Alliance, path: str) -> None:
    answer = alliance.client().get(PATH + path)
    assert answer.status_code == 303 and answer.headers["location"] == f"{PATH}/login"


def test_the_public_forms_and_the_root(alliance: Alliance) -> None:
    client = alliance.client()
    assert client.get(f"{PATH}/login").status_code == 200
    assert client.get(f"{PATH}/reset").status_code == 200
    assert client.get(f"{PATH}/").headers["location"] == f"{PATH}/login"
    assert client.get(f"{PATH}/static/portal.css").headers["content-type"].startswith("text/css")
    assert client.get(f"{PATH}/nowhere").status_code == 404


@pytest.mark.parametrize("login", sorted(HOMES))
def test_each_role_reaches_its_own_pages_only(alliance: Alliance, login: str) -> None:
    client = alliance.logged_in(login)
    assert client.get(f"{PATH}/").headers["location"] == PATH + HOMES[login]
    for home in set(HOMES.values()):
        status = client.get(PATH + home).status_code
        assert status == (200 if home == HOMES[login] else 404), home
    assert client.get(f"{PATH}/password").status_code == 200


def test_every_page_answers_with_the_strict_headers(alliance: Alliance) -> None:
    answer = alliance.logged_in("zhang").get(f"{PATH}/me")
    assert "script-src" not in answer.headers["content-security-policy"]
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert "<script" not in answer.text


# -- what each role sees, against the ledger ----------------------------------------------


def test_the_holder_sees_the_ledger_s_balances_and_the_credit_line(alliance: Alliance) -> None:
    html = alliance.logged_in("zhang").get(f"{PATH}/me").text
    for purse in ("consumption_points", "bank_points", "credit_points"):
        account = f"zhang:{purse}"
        shown = re.search(rf'data-account="{account}">([^<]*)<', html)
        assert shown and int(shown.group(1).replace(",", "")) == balance(alliance, account)
    assert balance(alliance, "zhang:consumption_points") == 1_500 - 200
    assert cell(html, "credit-line") == "500.00"
    assert "raises the credit line from 0.00 CNY to 500.00 CNY" in html
    assert cell(html, "card") == alliance.office.member("zhang").card_id
    assert cell(html, "last-online").endswith(": approved 1,500.00 CNY")


def test_the_holder_s_spending_is_what_the_issuer_approved_in_30_days(
        alliance: Alliance) -> None:
    with alliance.office.db.read() as conn:
        (approved,) = conn.execute(select(bo_authorisations)
                                   .where(bo_authorisations.c.decision == "approve")).all()
    for days, shown in ((0, True), (29, True), (31, False)):
        alliance.clock.now = from_micros(approved.ts) + dt.timedelta(days=days)
        html = alliance.logged_in("zhang").get(f"{PATH}/me").text
        spent = re.search(r'id="spending".*?<td>-</td><td class="n">(\d+)</td>'
                          r'<td class="n">([^<]*)</td>', html, re.DOTALL)
        assert (spent.groups() if spent else None) == (("1", "1,500.00") if shown else None)


def test_the_history_says_why_points_moved(alliance: Alliance) -> None:
    """(Also on PostgreSQL: test_portal_postgres.)"""
    html = alliance.logged_in("zhang").get(f"{PATH}/history/zhang:consumption_points").text
    rows = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>.*?<td class=\"n\">([^<]*)</td></tr>",
                      html, re.DOTALL)
    assert sorted(rows) == sorted([("earned", "1,500"), ("redeemed", "-200")])


def test_the_merchant_s_day_is_what_settlement_then_posts(alliance: Alliance) -> None:
    html = alliance.logged_in("shop-a").get(f"{PATH}/merchant").text
    shown = (cell(html, "awarded"), cell(html, "redeemed"), cell(html, "net"))
    assert cell(html, "credit-points") == f"{balance(alliance, 'shop-a:merchant_credit_points'):,}"
    day = dt.date(2025, 6, 18)
    alliance.office.settle(day, at=dt.datetime(2025, 6, 19, 1, tzinfo=dt.UTC))
    with alliance.office.db.read() as conn:
        settled = conn.execute(select(bo_settlements)
                               .where(bo_settlements.c.merchant_id == "shop-a")).one()
    assert shown == (f"{settled.points_issued:,}", f"{settled.points_redeemed:,}",
                     f"{settled.net_fen / 100:,.2f}")
    assert len(re.findall(r'href="/portal/batch/', html)) == len(alliance.facts["batches"])


def test_the_insurer_sees_the_premium_paid_with_points(alliance: Alliance) -> None:
    html = alliance.logged_in("insurer").get(f"{PATH}/insurer").text
    assert cell(html, "premium-total") == f"{balance(alliance, 'insurer:cny') / 100:,.2f}"
    assert "POL-7" in html and "zhang" in html


def test_the_operator_sees_members_terminals_and_the_outbox(alliance: Alliance) -> None:
    html = alliance.logged_in("ops").get(f"{PATH}/operator").text
    for member in ("zhang", "li", "shop-a", "shop-b", "insurer", "bank"):
        assert f"<td>{member}</td>" in html
    assert "0000000A0001" in html and "0000000B0001" in html
    waiting = re.findall(r"<tr><td data-kind=\"([a-z_]+)\">[^<]*</td><td class=\"n\">(\d+)</td>"
                         r"<td class=\"n\">(\d+)</td></tr>", html)
    assert waiting and sum(int(w) for _, _, w in waiting) == len(
        alliance.office.messages(limit=1000))
    assert "<td>shop-a-std</td><td>shop-a</td><td>standard</td>" in html


def test_the_operator_sees_each_settled_day(alliance: Alliance) -> None:
    assert "No entries yet." in alliance.logged_in("ops").get(f"{PATH}/operator").text
    result = alliance.office.settle(dt.date(2025, 6, 18),
                                    at=dt.datetime(2025, 6, 19, 1, tzinfo=dt.UTC))
    html = alliance.logged_in("ops").get(f"{PATH}/operator").text
    funding = sum(p.funding_fen for p in result.positions)
    payout = sum(p.payout_fen for p in result.positions)
    assert (f"<tr><td>2025-06-18</td><td class=\"n\">{len(result.positions)}</td>"
            f"<td class=\"n\">{funding / 100:,.2f}</td><td class=\"n\">{payout / 100:,.2f}</td>"
            ) in html


# -- IDOR: another party's ids in the URL -------------------------------------------------


@pytest.mark.parametrize(("login", "path"), [
    ("zhang", "/history/li:consumption_points"),
    ("li", "/history/zhang:credit_line"),
    ("shop-b", "/history/shop-a:points_issued"),
    ("shop-a", "/history/shop-b:merchant_credit_points"),
    ("insurer", "/history/zhang:consumption_points"),
    ("zhang", "/history/alliance:cny"),
    ("zhang", "/history/no-such-account"),
])
def test_another_party_s_account_is_not_found(alliance: Alliance, login: str, path: str) -> None:
    assert alliance.logged_in(login).get(PATH + path).status_code == 404


def test_another_merchant_s_batch_is_not_found(alliance: Alliance) -> None:
    batch = alliance.facts["batches"][0]
    assert alliance.logged_in("shop-a").get(f"{PATH}/batch/{batch}").status_code == 200
    for login in ("shop-b", "zhang", "insurer"):
        assert alliance.logged_in(login).get(f"{PATH}/batch/{batch}").status_code == 404
    assert alliance.logged_in("ops").get(f"{PATH}/batch/{batch}").status_code == 200


def test_the_operator_may_read_any_account(alliance: Alliance) -> None:
    answer = alliance.logged_in("ops").get(f"{PATH}/history/li:consumption_points")
    assert answer.status_code == 200 and "77" in answer.text


# -- CSRF ---------------------------------------------------------------------------------


def test_a_login_form_without_its_cookie_s_token_is_refused(alliance: Alliance) -> None:
    client = alliance.client()
    token = csrf_of(client.get(f"{PATH}/login").text)
    form = {"login": "zhang", "password": PASSWORDS["zhang"]}
    assert client.post(f"{PATH}/login", data=form).status_code == 403
    assert client.post(f"{PATH}/login", data={**form, "csrf": token + "x"}).status_code == 403
    stranger = alliance.client()  # a token, but not this browser's cookie
    assert stranger.post(f"{PATH}/login", data={**form, "csrf": token}).status_code == 403
    assert client.post(f"{PATH}/login", data={**form, "csrf": token}).status_code == 303


def test_a_form_with_another_session_s_token_is_refused(alliance: Alliance) -> None:
    victim, attacker = alliance.logged_in("zhang"), alliance.logged_in("li")
    token = csrf_of(attacker.get(f"{PATH}/me").text)
    assert victim.post(f"{PATH}/logout", data={"csrf": token}).status_code == 403
    assert victim.post(f"{PATH}/logout", data={}).status_code == 403
    assert victim.get(f"{PATH}/me").status_code == 200  # still logged in
    form = {"current": PASSWORDS["zhang"], "new": "x" * 12, "repeat": "x" * 12, "csrf": token}
    assert victim.post(f"{PATH}/password", data=form).status_code == 403
    assert login_as(alliance.client(), "zhang", PASSWORDS["zhang"]).status_code == 303


def test_a_form_of_another_content_type_is_refused(alliance: Alliance) -> None:
    client = alliance.client()
    answer = client.post(f"{PATH}/login", json={"login": "zhang"})
    assert answer.status_code == 415 and "default-src 'none'" in \
        answer.headers["content-security-policy"]
    too_long = client.post(f"{PATH}/login", data={"login": "x" * 70_000})
    assert too_long.status_code == 413


# -- sessions -----------------------------------------------------------------------------


def test_the_session_cookie_is_http_only_lax_and_scoped(alliance: Alliance) -> None:
    client = alliance.client()
    answer = login_as(client, "zhang", PASSWORDS["zhang"])
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and f"Path={PATH}" in cookie
    assert "Secure" not in cookie  # in clear (a lab); over TLS see test_served_by_the_host


def test_a_planted_session_id_never_becomes_a_session(alliance: Alliance) -> None:
    planted = "attacker-chosen-session-id-0123456789abcdef"
    client = alliance.client(cookies={SESSION_COOKIE: planted})
    answer = login_as(client, "zhang", PASSWORDS["zhang"])
    given = answer.cookies[SESSION_COOKIE]
    assert given != planted
    attacker = alliance.client(cookies={SESSION_COOKIE: planted})
    assert attacker.get(f"{PATH}/me").status_code == 303


def test_logging_in_again_ends_the_browser_s_earlier_session(alliance: Alliance) -> None:
    client = alliance.logged_in("li")
    earlier = client.cookies[SESSION_COOKIE]
    alliance.logged_in("zhang", client)
    assert client.cookies[SESSION_COOKIE] != earlier
    replay = alliance.client(cookies={SESSION_COOKIE: earlier})
    assert replay.get(f"{PATH}/me").status_code == 303


def test_logout_ends_the_session(alliance: Alliance) -> None:
    client = alliance.logged_in("zhang")
    token, cookie = csrf_of(client.get(f"{PATH}/me").text), client.cookies[SESSION_COOKIE]
    answer = client.post(f"{PATH}/logout", data={"csrf": token})
    assert answer.status_code == 303 and answer.headers["location"] == f"{PATH}/login"
    assert alliance.client(cookies={SESSION_COOKIE: cookie}).get(f"{PATH}/me").status_code == 303


def test_a_session_expires(alliance: Alliance) -> None:
    client = alliance.logged_in("zhang")
    alliance.clock.now += alliance.portal.sessions.lifetime
    assert client.get(f"{PATH}/me").status_code == 303


# -- throttling ---------------------------------------------------------------------------


def test_guessing_a_password_is_throttled_per_account(alliance: Alliance) -> None:
    client = alliance.client()
    limit = alliance.portal.accounts.throttle.per_account
    for _ in range(limit):
        assert login_as(client, "zhang", "wrong-password").status_code == 401
    refused = login_as(client, "zhang", PASSWORDS["zhang"])  # right, but too late
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert login_as(alliance.client(), "li", PASSWORDS["li"]).status_code == 303
    alliance.clock.now += alliance.portal.accounts.throttle.window
    assert login_as(client, "zhang", PASSWORDS["zhang"]).status_code == 303


def test_guessing_from_one_address_is_throttled_across_accounts(alliance: Alliance) -> None:
    throttle = alliance.portal.accounts.throttle
    client = alliance.client()
    for number in range(throttle.per_address):
        assert login_as(client, f"nobody{number}", "wrong-password").status_code == 401
    assert login_as(client, "li", PASSWORDS["li"]).status_code == 429


def test_an_unknown_account_and_a_wrong_password_read_the_same(alliance: Alliance) -> None:
    client = alliance.client()
    unknown, wrong = login_as(client, "nobody", "whatever-pw"), login_as(client, "li", "nope-nope")
    assert unknown.status_code == wrong.status_code == 401
    message = "The account or the password is wrong."
    assert message in unknown.text and message in wrong.text


# -- passwords ----------------------------------------------------------------------------


def _change(client: httpx.Client, current: str, new: str, repeat: str | None = None) -> httpx.Response:
    token = csrf_of(client.get(f"{PATH}/password").text)
    return client.post(f"{PATH}/password", data={
        "current": current, "new": new, "repeat": new if repeat is None else repeat, "csrf": token})


def test_changing_the_password(alliance: Alliance) -> None:
    client, elsewhere = alliance.logged_in("zhang"), alliance.logged_in("zhang")
    before = client.cookies[SESSION_COOKIE]
    assert _change(client, "wrong-current", "new-password-1").status_code == 401
    assert _change(client, PASSWORDS["zhang"], "new-password-1", "other-pass-1").status_code == 400
    assert _change(client, PASSWORDS["zhang"], "s" * (MIN_PASSWORD - 1)).status_code == 400
    assert _change(client, PASSWORDS["zhang"], "new-password-1").status_code == 200
    assert client.cookies[SESSION_COOKIE] != before  # a new id for this browser
    assert client.get(f"{PATH}/me").status_code == 200
    assert elsewhere.get(f"{PATH}/me").status_code == 303  # every other session ended
    assert login_as(alliance.client(), "zhang", PASSWORDS["zhang"]).status_code == 401
    assert login_as(alliance.client(), "zhang", "new-password-1").status_code == 303


def _reset(client: httpx.Client, login: str, code: str, new: str) -> httpx.Response:
    token = csrf_of(client.get(f"{PATH}/reset").text)
    return client.post(f"{PATH}/reset", data={"login": login, "code": code, "new": new,
                                              "repeat": new, "csrf": token})


def test_a_reset_code_works_once(alliance: Alliance) -> None:
    session = alliance.logged_in("li")
    code = alliance.portal.accounts.issue_reset_code("li")
    client = alliance.client()
    assert _reset(client, "li", "00000-00000", "reset-password-1").status_code == 401
    assert _reset(client, "zhang", code, "reset-password-1").status_code == 401  # li's code
    done = _reset(client, "li", code.upper(), "reset-password-1")
    assert done.status_code == 200 and "Your password was reset" in done.text
    assert session.get(f"{PATH}/me").status_code == 303
    assert _reset(client, "li", code, "reset-password-2").status_code == 401
    assert login_as(client, "li", "reset-password-1").status_code == 303


def test_a_reset_code_expires_after_a_day(alliance: Alliance) -> None:
    code = alliance.portal.accounts.issue_reset_code("li")
    alliance.clock.now += dt.timedelta(days=1)
    assert _reset(alliance.client(), "li", code, "reset-password-1").status_code == 401


def test_guessing_reset_codes_is_throttled(alliance: Alliance) -> None:
    code = alliance.portal.accounts.issue_reset_code("li")
    client = alliance.client()
    for number in range(alliance.portal.accounts.throttle.per_account):
        assert _reset(client, "li", f"{number:05d}-00000", "reset-password-1").status_code == 401
    assert _reset(client, "li", code, "reset-password-1").status_code == 429


# -- markup typed by members --------------------------------------------------------------


@pytest.mark.parametrize(("login", "path"), [("ops", "/operator"), ("shop-b", "/merchant"),
                                             ("li", "/me")])
def test_names_are_shown_as_text(alliance: Alliance, login: str, path: str) -> None:
    html = alliance.logged_in(login).get(PATH + path).text
    assert "<script>alert" not in html and "<img src=x" not in html
    hostile = HOSTILE_MERCHANT if login == "shop-b" else HOSTILE_HOLDER
    assert hostile in unescape(html)


def test_a_login_name_typed_back_is_escaped(alliance: Alliance) -> None:
    answer = login_as(alliance.client(), '"><script>x()</script>', "whatever-pw")
    assert answer.status_code == 401 and "<script>x()" not in answer.text


# -- languages ----------------------------------------------------------------------------


@pytest.mark.parametrize("login", sorted(HOMES))
def test_every_page_speaks_chinese_when_asked(alliance: Alliance, login: str) -> None:
    client = alliance.logged_in(login)
    client.headers["accept-language"] = "zh-CN,zh;q=0.9,en;q=0.5"
    html = client.get(PATH + HOMES[login]).text
    assert '<html lang="zh-CN">' in html and "退出" in html


def test_the_language_switch_sets_a_cookie_and_stays_in_the_portal(alliance: Alliance) -> None:
    client = alliance.client()
    token = csrf_of(client.get(f"{PATH}/login").text)
    answer = client.post(f"{PATH}/lang/zh", data={"csrf": token, "next": f"{PATH}/reset"})
    assert answer.headers["location"] == f"{PATH}/reset"
    assert "重设密码" in client.get(f"{PATH}/reset").text
    away = client.post(f"{PATH}/lang/en", data={"csrf": token, "next": "https://evil.example/"})
    assert away.headers["location"] == f"{PATH}/"
    assert client.cookies[CSRF_COOKIE] == token


def test_a_failure_behind_a_page_is_a_page_and_a_logged_error_id(
        alliance: Alliance, caplog: pytest.LogCaptureFixture) -> None:
    client = alliance.logged_in("zhang")
    with alliance.office.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bo_credit_changes")
    answer = client.get(f"{PATH}/me")
    assert answer.status_code == 500 and "Something went wrong on our side" in answer.text
    assert "Traceback" not in answer.text and "bo_credit_changes" not in answer.text
    (record,) = [r for r in caplog.records if r.name == "dualcard.portal"]
    assert len(record.fields["error_id"]) == 32  # type: ignore[attr-defined]


def test_a_holders_dashboard_reads_only_through_indexes(alliance: Alliance) -> None:
    """Each statement of the most asked page searches an index of the member's own rows:
    none scans a table (the ledger holds millions of transfers, the outbox and the credit
    reviews grow with every member)."""
    from host.backoffice import members
    from host.portal import sessions, views

    statements = [views._OWNED, views._CREDIT_CHANGES, views._PENDING_LIMIT, views._NOTICES,
                  views._LAST_ONLINE, views._SPENDING, sessions._LOOKUP, members._MEMBER,
                  members._TERMINALS]
    with alliance.office.db.read() as conn:
        for statement in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                        ("x",) * statement.count("?")).all()
            steps = [row[3] for row in plan]
            assert all(step.startswith(("SEARCH", "USE TEMP B-TREE")) for step in steps), \
                (statement, steps)
