"""The portal in a real browser (the system's headless Chromium): each role logs in, walks
its pages, submits the forms; what the pages show is checked against the ledger, every
page passes the accessibility check, and the screenshots are kept (docs/img for the
guide, when $DUALCARD_PORTAL_SCREENSHOTS names it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from host.backoffice.centre import SettlementCentre
from host.backoffice.prepaid import PrepaidOffice
from host.portal.app import PATH
from host.pos.merchant import MerchantIdentity
from host.pos.network_link import NetworkLink, ServiceRefusedError
from host.service.core import ServiceCore
from host.service.schema import create_service_schema
from host.service.services import AllianceServices
from host.service.tcp_server import ISOServer, serve_in_thread
from host.service.terminals import TerminalDirectory
from host.testing.personalise import SAMPLE
from tests.service.conftest import POLICY

from .browser import accessibility_problems, launched, screenshot
from .conftest import PASSWORDS, Alliance
from .test_portal_http import balance


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800}, locale="en-GB")
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Any, alliance: Alliance, login: str, password: str | None = None) -> None:
    page.goto(f"{alliance.url}{PATH}/login")
    page.get_by_label("Account").fill(login)
    page.get_by_label("Password").fill(password or PASSWORDS[login])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def number(page: Any, selector: str) -> int:
    return int(page.locator(selector).inner_text().replace(",", "").replace(".", ""))


def checked(page: Any, directory: Path, name: str) -> None:
    assert accessibility_problems(page) == [], name
    screenshot(page, directory, name)


@pytest.mark.browser
def test_the_login_and_reset_forms(page: Any, alliance: Alliance, tmp_path: Path) -> None:
    page.goto(f"{alliance.url}{PATH}/login")
    checked(page, tmp_path, "portal-login")
    log_in(page, alliance, "zhang", "not-the-password")
    assert page.get_by_role("alert").inner_text() == "The account or the password is wrong."
    checked(page, tmp_path, "portal-login-refused")
    page.get_by_role("link", name="Reset the password with a code").click()
    checked(page, tmp_path, "portal-reset")


@pytest.mark.browser
def test_a_holder_s_day(page: Any, alliance: Alliance, tmp_path: Path) -> None:
    log_in(page, alliance, "zhang")
    assert page.url.endswith(f"{PATH}/me")
    for purse in ("consumption_points", "bank_points", "credit_points"):
        assert number(page, f'[data-account="zhang:{purse}"]') == \
            balance(alliance, f"zhang:{purse}")
    assert page.locator("#credit-line").inner_text() == "500.00"
    checked(page, tmp_path, "portal-consumer")
    page.get_by_role("link", name="History Consumption points").click()
    reasons = page.locator("#history td:nth-child(2)").all_inner_texts()
    assert sorted(reasons) == ["earned", "redeemed"]
    checked(page, tmp_path, "portal-consumer-history")
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("明细")
    checked(page, tmp_path, "portal-consumer-history-zh")


@pytest.mark.browser
def test_a_holder_changes_the_password_and_logs_out(page: Any, alliance: Alliance,
                                                    tmp_path: Path) -> None:
    log_in(page, alliance, "li")
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password").fill(PASSWORDS["li"])
    page.get_by_label("New password (At least 10 characters.)").fill("brand-new-pass-1")
    page.get_by_label("New password again").fill("brand-new-pass-1")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == "Your password was changed."
    checked(page, tmp_path, "portal-password")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"{PATH}/login")
    log_in(page, alliance, "li", "brand-new-pass-1")
    assert page.url.endswith(f"{PATH}/me")


@pytest.mark.browser
def test_a_merchant_s_day(page: Any, alliance: Alliance, tmp_path: Path) -> None:
    log_in(page, alliance, "shop-a")
    assert page.url.endswith(f"{PATH}/merchant")
    assert number(page, "#total-awarded") == -balance(alliance, "shop-a:points_issued")
    assert number(page, "#total-redeemed") == balance(alliance, "shop-a:points_redeemed")
    assert number(page, "#credit-points") == balance(alliance, "shop-a:merchant_credit_points")
    bars = page.locator("svg.chart rect").evaluate_all(
        "rects => rects.map(r => +r.dataset.value)")
    assert bars == [number(page, "#awarded"), number(page, "#redeemed")]
    checked(page, tmp_path, "portal-merchant")
    page.locator("#batches a").first.click()
    page.wait_for_load_state()
    assert page.locator("#records tr").count() > 1
    checked(page, tmp_path, "portal-merchant-batch")


@pytest.mark.browser
def test_an_insurer_and_an_operator(page: Any, alliance: Alliance, tmp_path: Path) -> None:
    log_in(page, alliance, "insurer")
    assert number(page, "#premium-total") == balance(alliance, "insurer:cny")
    checked(page, tmp_path, "portal-insurer")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    log_in(page, alliance, "ops")
    assert page.locator("#members tr").count() == 1 + len(alliance.office.members()) - 1
    checked(page, tmp_path, "portal-operator")


@pytest.mark.browser
def test_the_accessibility_check_finds_what_it_looks_for(page: Any) -> None:
    page.set_content('<html><head><title>t</title></head><body><h2>skipped h1</h2>'
                     '<h4>and h3</h4><input name="q"><img src="data:,">'
                     '<p style="color:#999;background:#fff">faint</p><button></button></body></html>')
    found = accessibility_problems(page)
    for expected in ("html has no lang", "input without a label: q", "img without alt",
                     "not exactly one h1", "heading h2 then h4", "nameless BUTTON",
                     "contrast 2.85: P faint"):
        assert expected in found, (expected, found)


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             ("", pytest.skip.Exception)])
def test_a_missing_chromium_fails_under_ci_and_skips_elsewhere(
        monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]) -> None:
    from . import browser as harness

    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium package is not installed"):
        harness.chromium_path()


def money(page: Any, selector: str) -> int:
    """A figure shown in CNY, back in fen."""
    return number(page, selector)


@pytest.mark.browser
def test_a_holder_s_centre_prepaid_cards_and_notices(page: Any, alliance: Alliance,
                                                     tmp_path: Path) -> None:
    log_in(page, alliance, "zhang")
    page.get_by_role("link", name="Settlement centre").click()
    page.wait_for_load_state()
    tiers = SettlementCentre(alliance.office.db).balances("zhang")
    for tier in ("virtual", "settlement", "bank"):
        assert money(page, f'[data-tier="{tier}"]') == tiers[tier]["posted"]
    spent = SettlementCentre(alliance.office.db).spending("zhang")["months"]
    (month, categories), = spent.items()
    bars = page.locator(f".figure:has(#spent-{month}) svg rect")
    assert sorted(bars.evaluate_all("rects => rects.map(r => +r.dataset.value)")) == \
        sorted(categories.values())
    checked(page, tmp_path, "portal-consumer-centre")
    page.get_by_role("link", name="Prepaid cards").click()
    page.wait_for_load_state()
    account = alliance.facts["prepaid"]["zhang"]
    assert money(page, f'[data-prepaid="{account}"]') == \
        PrepaidOffice(alliance.office.db).balance(account)["balance"]
    checked(page, tmp_path, "portal-consumer-prepaid")
    page.get_by_role("link", name="Notices").click()
    page.wait_for_load_state()
    assert page.locator("#inbox td:nth-child(4)", has_text="New").count() > 0
    checked(page, tmp_path, "portal-consumer-notices")
    page.reload()
    assert page.locator("#inbox td:nth-child(4)", has_text="New").count() == 0
    page.get_by_role("link", name="Settlement centre").click()
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "结算中心"
    checked(page, tmp_path, "portal-consumer-centre-zh")


@pytest.mark.browser
def test_a_merchant_s_orders_and_prepaid_programs(page: Any, alliance: Alliance,
                                                 tmp_path: Path) -> None:
    log_in(page, alliance, "shop-a")
    page.get_by_role("link", name="Orders").click()
    page.wait_for_load_state()
    assert page.locator('[data-order="ORD-A1"]').inner_text() == "held"
    assert money(page, '[data-held="ORD-A1"]') == \
        SettlementCentre(alliance.office.db).order("ORD-A1").remaining
    checked(page, tmp_path, "portal-merchant-orders")
    page.get_by_role("link", name="Prepaid cards").click()
    page.wait_for_load_state()
    programs = PrepaidOffice(alliance.office.db).programs("shop-a")
    assert [p.id for p in programs] == \
        page.locator("#programs td:nth-child(1)").all_inner_texts()
    checked(page, tmp_path, "portal-merchant-prepaid")


@pytest.mark.browser
def test_an_insurer_approves_a_claim_and_the_operator_reconciles(
        page: Any, alliance: Alliance, tmp_path: Path) -> None:
    log_in(page, alliance, "insurer")
    page.get_by_role("link", name="Prepaid cards").click()
    page.wait_for_load_state()
    office = PrepaidOffice(alliance.office.db)
    assert money(page, '[data-payout="CLM-A"]') == office.claim("CLM-A")["payout"]
    checked(page, tmp_path, "portal-insurer-prepaid")
    page.get_by_label("Note").fill("closure confirmed")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    assert page.locator('[data-claim="CLM-A"]').inner_text().startswith("approved")
    assert office.claim("CLM-A")["state"] == "approved"
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    log_in(page, alliance, "ops")
    page.get_by_role("link", name="Prepaid reconciliation").click()
    page.wait_for_load_state()
    report = office.reconcile(alliance.portal.business_day())
    assert page.locator("#reconcile-ok").inner_text() == "Cards, custody and live records agree."
    for merchant in report["merchants"]:
        assert money(page, f'[data-ledger="{merchant["merchant"]}"]') == \
            merchant["cards_in_ledger"]
    checked(page, tmp_path, "portal-operator-reconcile")


@pytest.mark.browser
def test_an_operator_enrols_and_blocks_a_terminal_and_the_service_refuses_it(
        page: Any, alliance: Alliance, tmp_path: Path) -> None:
    """The key the page shows once works at the service host's ISO door over the network;
    blocked on the page, the same terminal is refused there (58, signed) — at once, as
    its directory keeps nothing (``max_age`` 0; 30 seconds by default)."""
    office = alliance.office
    services = AllianceServices(office, payment_keys=SAMPLE.payment_keys,
                                points_keys=SAMPLE.purse_keys, bank_id="bank", policy=POLICY)
    create_service_schema(office.db)
    core = ServiceCore(services, terminals=TerminalDirectory(office.db, max_age=0.0))
    log_in(page, alliance, "ops")
    page.get_by_role("link", name="Terminals").first.click()
    page.wait_for_load_state()
    page.get_by_label("Terminal id (12 hex digits)").fill("0000000A0002")
    page.get_by_label("Member (merchant, bank or insurer)").select_option("shop-a")
    page.get_by_role("button", name="Enrol a terminal").click()
    page.wait_for_load_state()
    terminal_id, key = _key_file(page.get_by_label("Key file (shown once)").input_value())
    checked(page, tmp_path, "portal-operator-terminal-enrolled")
    identity = MerchantIdentity("shop-a", bytes.fromhex(terminal_id))
    with serve_in_thread(ISOServer(core)) as address, \
            NetworkLink(*address, merchant=identity, key=key, timeout=10.0) as link:
        link.echo()  # the key the page gave works
        row = page.locator(f"#terminal-{terminal_id}")
        row.get_by_label("Reason").fill("till stolen")
        row.get_by_role("button", name="Block").click()
        page.wait_for_load_state()
        assert page.locator(f'#terminal-{terminal_id} [data-status]').inner_text() == "blocked"
        with pytest.raises(ServiceRefusedError) as refused:
            link.echo()
    assert refused.value.code == "58" and refused.value.authenticated
    checked(page, tmp_path, "portal-operator-terminals")


def _key_file(text: str) -> tuple[str, bytes]:
    doc = json.loads(text)
    return doc["terminal_id"], bytes.fromhex(doc["key"])
