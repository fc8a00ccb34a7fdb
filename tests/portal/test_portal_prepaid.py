"""The prepaid pages over HTTP: what each role sees against the prepaid office's own answers,
the insurer's claim review (a CSRF-protected form deciding only its own claims), and
another party's ids in the URL answered as if they did not exist."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict

import pytest
from sqlalchemy import select

from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.prepaid import (
    HolderKind,
    PrepaidOffice,
    Program,
    ProgramKind,
    RateRow,
    Trigger,
)
from host.backoffice.prepaid.schema import pp_cards, pp_policies
from host.portal.app import PATH

from .conftest import Alliance, csrf_of

PAGES = {"/me/prepaid": ("zhang", "li"), "/merchant/prepaid": ("shop-a", "shop-b"),
         "/insurer/prepaid": ("insurer",), "/operator/reconcile": ("ops",)}
LOGINS = ("zhang", "li", "shop-a", "shop-b", "insurer", "ops")


def prepaid(alliance: Alliance) -> PrepaidOffice:
    return PrepaidOffice(alliance.office.db)


def shown(html: str, attribute: str, key: str) -> str:
    found = re.search(rf'{attribute}="{re.escape(key)}">([^<]*)<', html)
    assert found, f"no {attribute}={key} in the page"
    return found.group(1).strip()


def fen(amount: int) -> str:
    return f"{amount / 100:,.2f}"


@pytest.mark.parametrize("login", LOGINS)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_each_role_reaches_its_prepaid_page_only_in_both_languages(
        alliance: Alliance, login: str, lang: str) -> None:
    client = alliance.logged_in(login)
    client.cookies.set("portal_lang", lang)
    for path, logins in PAGES.items():
        answer = client.get(PATH + path)
        assert answer.status_code == (200 if login in logins else 404), path
        if answer.status_code == 200:
            assert f'href="{PATH}{path}"' in answer.text  # in the navigation bar


def test_the_holder_sees_the_prepaid_office_s_live_balances_and_claims(
        alliance: Alliance) -> None:
    html = alliance.logged_in("zhang").get(f"{PATH}/me/prepaid").text
    account = alliance.facts["prepaid"]["zhang"]
    live = prepaid(alliance).balance(account)
    assert 0 < live["balance"] <= 700_000 + 70_000 - 120_000  # the bonus split rounds down
    assert shown(html, "data-prepaid", account) == fen(live["balance"])
    for card in live["cards"]:
        assert shown(html, "data-card", card["card"]) == fen(card["balance"])
    assert shown(html, "data-claim", "CLM-A") == "waiting for the insurer"
    policies = prepaid(alliance).policies(holder_id="zhang")
    assert policies and all(p["policy"] in html for p in policies)
    li = alliance.facts["prepaid"]["li"]
    assert li not in html and "CLM-B" not in html and "B-CAKE" not in html


def test_the_merchant_sees_its_programs_and_the_cards_issued(alliance: Alliance) -> None:
    html = alliance.logged_in("shop-a").get(f"{PATH}/merchant/prepaid").text
    with alliance.office.db.read() as conn:
        cards = conn.execute(select(pp_cards).where(pp_cards.c.program_id == "A-GYM")).all()
    assert shown(html, "data-cards", "A-GYM") == str(len(cards))
    assert shown(html, "data-live", "A-GYM") == fen(
        sum(c.principal_left + c.bonus_left for c in cards))
    assert "B-CAKE" not in html


def test_the_insurer_s_exposure_is_the_live_balance_of_the_cards_it_insures(
        alliance: Alliance) -> None:
    html = alliance.logged_in("insurer").get(f"{PATH}/insurer/prepaid").text
    per_merchant: dict[str, int] = defaultdict(int)
    with alliance.office.db.read() as conn:
        rows = conn.execute(select(pp_cards.c.merchant_id, pp_cards.c.principal_left,
                                   pp_cards.c.bonus_left)
                            .join(pp_policies, pp_policies.c.card_no == pp_cards.c.card_no)
                            .where(pp_policies.c.insurer_id == "insurer")).all()
    for merchant, principal, bonus in rows:
        per_merchant[merchant] += principal + bonus
    assert list(per_merchant) == ["shop-a"]
    assert shown(html, "data-exposure", "shop-a") == fen(per_merchant["shop-a"])
    assert shown(html, "data-payout", "CLM-A") == fen(prepaid(alliance).claim("CLM-A")["payout"])
    assert 'data-exposure="shop-b"' not in html and "CLM-B" not in html


def _decide(alliance: Alliance, claim: str, decision: str, *, login: str = "insurer",
            csrf: bool = True) -> int:
    client = alliance.logged_in(login)
    token = csrf_of(client.get(f"{PATH}/password").text) if csrf else "forged"
    return client.post(f"{PATH}/insurer/claim/{claim}",
                       data={"csrf": token, "decision": decision, "note": "<b>ok</b>"}).status_code


def test_the_insurer_approves_its_claim_once(alliance: Alliance) -> None:
    assert _decide(alliance, "CLM-A", "approve") == 303
    claim = prepaid(alliance).claim("CLM-A")
    assert claim["state"] == "approved" and claim["note"] == "<b>ok</b>"
    html = alliance.logged_in("insurer").get(f"{PATH}/insurer/prepaid").text
    assert shown(html, "data-claim", "CLM-A").startswith("approved: &lt;b&gt;ok&lt;/b&gt;")
    assert _decide(alliance, "CLM-A", "reject") == 409
    assert prepaid(alliance).claim("CLM-A")["state"] == "approved"
    zhang = alliance.logged_in("zhang").get(f"{PATH}/me/prepaid").text
    assert shown(zhang, "data-claim", "CLM-A") == "approved"


def test_a_rejected_claim_gives_the_holder_the_cards_back(alliance: Alliance) -> None:
    assert _decide(alliance, "CLM-A", "reject") == 303
    html = alliance.logged_in("zhang").get(f"{PATH}/me/prepaid").text
    assert "frozen" not in html and html.count(">active<") == len(
        prepaid(alliance).balance(alliance.facts["prepaid"]["zhang"])["cards"])


@pytest.mark.parametrize(("login", "claim", "csrf", "status"), [
    ("insurer", "CLM-B", True, 404),  # another insurer's claim
    ("insurer", "no-such-claim", True, 404),
    ("shop-a", "CLM-A", True, 404),  # the merchant whose claim it is
    ("zhang", "CLM-A", True, 404),
    ("ops", "CLM-A", True, 404),
    ("insurer", "CLM-A", False, 403),  # a forged form
])
def test_nobody_else_decides_a_claim(alliance: Alliance, login: str, claim: str, csrf: bool,
                                     status: int) -> None:
    assert _decide(alliance, claim, "approve", login=login, csrf=csrf) == status
    for left_open in ("CLM-A", "CLM-B"):
        assert prepaid(alliance).claim(left_open)["state"] == "open"


def test_a_form_without_a_decision_decides_nothing(alliance: Alliance) -> None:
    assert _decide(alliance, "CLM-A", "maybe") == 400
    assert prepaid(alliance).claim("CLM-A")["state"] == "open"


def test_the_operator_s_reconciliation_is_the_prepaid_office_s(alliance: Alliance) -> None:
    client = alliance.logged_in("ops")
    day = alliance.portal.business_day()
    html = client.get(f"{PATH}/operator/reconcile").text
    report = prepaid(alliance).reconcile(day)
    assert report["ok"] and 'class="notice"' in html and day.isoformat() in html
    for merchant in report["merchants"]:
        assert shown(html, "data-ledger", merchant["merchant"]) == fen(merchant["cards_in_ledger"])
    before = (day - dt.timedelta(days=400)).isoformat()
    assert "No entries yet." in client.get(f"{PATH}/operator/reconcile/{before}").text
    assert client.get(f"{PATH}/operator/reconcile/not-a-day").status_code == 404


def test_a_claim_shared_with_another_insurer_is_shown_but_not_decided(
        alliance: Alliance) -> None:
    at = alliance.clock.now
    alliance.office.add_members([Member("shop-c", MemberKind.MERCHANT, "Shop C", at,
                                        two_way=Ratio(1, 10))], at=at)
    pp = prepaid(alliance)
    for program, insurer in (("C-ONE", "insurer"), ("C-TWO", "insurer-b")):
        pp.add_program(Program(program, "shop-c", ProgramKind.BONUS, 100_000, insurer,
                               premium_bp=50, bonus_bp=0), at=at)
        pp.issue(f"buy-{program}", program, "zhang", 10_000, at=at)
    pp.open_claim("CLM-C", "shop-c", Trigger.CLOSURE, trigger_at=at, at=at)
    html = alliance.logged_in("insurer").get(f"{PATH}/insurer/prepaid").text
    assert shown(html, "data-payout", "CLM-C") == fen(sum(
        line["payout"] for line in pp.claim("CLM-C")["lines"] if line["insurer"] == "insurer"))
    assert "the operator decides it" in html
    assert f'action="{PATH}/insurer/claim/CLM-C"' not in html
    assert _decide(alliance, "CLM-C", "approve") == 404
    assert pp.claim("CLM-C")["state"] == "open"


def test_the_merchant_and_the_insurer_see_each_program_s_caps_as_the_office_applies_them(
        alliance: Alliance) -> None:
    """Both per-card caps, the anonymous one as the CLI lists it (A-GYM sets none: the
    default applies)."""
    (gym,) = prepaid(alliance).programs("shop-a")
    for login in ("shop-a", "insurer"):
        page = "/merchant/prepaid" if login == "shop-a" else "/insurer/prepaid"
        html = alliance.logged_in(login).get(PATH + page).text
        assert shown(html, "data-cap", "A-GYM") == fen(gym.card_cap)
        assert shown(html, "data-anonymous-cap", "A-GYM") == fen(
            gym.cap(HolderKind.ANONYMOUS)) == fen(100_000)
        assert 'data-anonymous-cap="B-CAKE"' not in html  # another merchant's, another insurer's


def test_the_insurer_sees_its_rate_table_and_the_rate_of_each_policy(alliance: Alliance) -> None:
    client = alliance.logged_in("insurer")
    before = client.get(f"{PATH}/insurer/prepaid").text
    assert "No rate table" in before and 'data-rate="' not in before
    office = prepaid(alliance)
    for row in (RateRow("insurer", "SHORT", 1, 180, 0, 500_000, 60),
                RateRow("insurer", "YEAR-ANON", 181, 366, 0, 100_000, 95, HolderKind.ANONYMOUS)):
        office.add_rate(row, at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    office.add_rate(RateRow("insurer-b", "OTHER", 1, 366, 0, 500_000, 70),
                    at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    html = client.get(f"{PATH}/insurer/prepaid").text
    assert [row["row"] for row in (r.as_dict() for r in office.rates("insurer"))] == [
        "SHORT", "YEAR-ANON"]
    assert shown(html, "data-rate", "SHORT") == "60"
    assert shown(html, "data-rate", "YEAR-ANON") == "95"
    assert "No rate table" not in html and 'data-rate="OTHER"' not in html
    for policy in office.policies(insurer_id="insurer"):
        assert shown(html, "data-policy-rate", policy["policy"]) == (
            f"{policy['rate_bp']} ({policy['rate_row'] or 'flat rate'})")


def test_the_holder_sees_which_cap_each_card_was_issued_under(alliance: Alliance) -> None:
    html = alliance.logged_in("zhang").get(f"{PATH}/me/prepaid").text
    cards = prepaid(alliance).balance(alliance.facts["prepaid"]["zhang"])["cards"]
    assert cards and all(shown(html, "data-kind", c["card"]) == c["holder_kind"] == "registered"
                         for c in cards)
