"""The merchants' payment gateway through the real HTTP door, on SQLite and PostgreSQL:
a payment held in escrow and read back, a code entered on delivery, a prepaid payment;
another merchant sees nothing, refusals carry their reason, a repeat posts once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from host.backoffice import Member, MemberKind, Ratio
from host.backoffice.centre import Condition, OrderRequest, SettlementCentre, TierSettings
from host.backoffice.members import find_member
from host.backoffice.prepaid import PrepaidOffice, Program, ProgramKind
from host.service.terminals import register_terminal
from tests.pos.conftest import START
from tests.service.conftest import Host
from tests.service.http_helpers import answer_verifies, error, send

ADDRESS = "8 Park Road"
SHOP_B = "0000000B0001"
#: the service's clock is the wall clock: payments expire a month from now
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EXPIRES = (NOW + dt.timedelta(days=30)).isoformat()


@pytest.fixture
def gateway(service: Host) -> Host:
    """The sample alliance's consumer zhang with the settlement centre's three tiers."""
    centre = SettlementCentre(service.office.db)
    centre.bank.open_account("BK-zhang", deposit=10_000_000, at=START)  # type: ignore[attr-defined]
    centre.open_account("zhang", TierSettings(500_000, 100_000, 1_000_000),
                        bank_account="BK-zhang", addresses=[ADDRESS], at=START)
    return service


def _post(service: Host, target: str, doc: dict[str, Any], key: bytes | None = None,
          **options: Any) -> httpx.Response:
    return send(service.http_url or "", key or service.terminal.key, "POST", target, doc,
                **options)


def _get(service: Host, target: str, key: bytes | None = None, **options: Any) -> httpx.Response:
    return send(service.http_url or "", key or service.terminal.key, "GET", target, **options)


def _payment(payment_id: str, amount: int = 120_00, **more: Any) -> dict[str, Any]:
    return {"payment_id": payment_id, "holder_id": "zhang", "amount": amount,
            "condition": "acceptance", "address": ADDRESS, "expires_at": EXPIRES, **more}


def _shop_b(service: Host) -> bytes:
    service.office.add_member(Member("shop-b", MemberKind.MERCHANT, "Shop B", START,
                                     two_way=Ratio(1, 10), terminals=(SHOP_B,)), at=START)
    return register_terminal(service.office.db, SHOP_B, at=START).key


def test_a_payment_is_held_then_read_back_and_a_repeat_posts_once(gateway: Host) -> None:
    held = _post(gateway, "/v1/payments", _payment("PAY-1"))
    assert held.status_code == 200, held.text
    assert answer_verifies(gateway.terminal.key, held)
    shown = held.json()
    assert (shown["payment_id"], shown["merchant"], shown["state"], shown["held"],
            shown["status"]) == ("PAY-1", "shop-a", "held", 120_00, "created")
    again = _post(gateway, "/v1/payments", _payment("PAY-1"))  # a new idempotency key
    assert again.status_code == 200 and again.json()["status"] == "exists"
    status = _get(gateway, "/v1/payments/PAY-1")
    assert status.status_code == 200 and status.json()["held"] == 120_00
    balances = SettlementCentre(gateway.office.db).balances("zhang")
    assert balances["virtual"]["pending_out"] == 120_00  # held once


def test_the_authentication_centre_refuses_with_its_reason(gateway: Host) -> None:
    for doc, reason in ((_payment("PAY-2", address="1 Elsewhere"), "address_not_on_file"),
                        (_payment("PAY-3", amount=20_000_00), "over_credit_line")):
        refused = _post(gateway, "/v1/payments", doc)
        assert refused.status_code == 422, refused.text
        assert error(refused)["reason"] == reason
        assert _get(gateway, f"/v1/payments/{doc['payment_id']}").status_code == 404


def test_a_merchant_cannot_ask_for_a_code_order_nor_a_bad_amount(gateway: Host) -> None:
    for field, doc in (("condition", _payment("PAY-4", condition="code")),
                       ("amount", _payment("PAY-5", amount=0))):
        refused = _post(gateway, "/v1/payments", doc)
        assert refused.status_code == 422 and error(refused)["field"] == field


def test_another_merchant_sees_no_payment_of_shop_a(gateway: Host) -> None:
    assert _post(gateway, "/v1/payments", _payment("PAY-6")).status_code == 200
    key_b = _shop_b(gateway)
    seen = _get(gateway, "/v1/payments/PAY-6", key_b, terminal=SHOP_B)
    assert seen.status_code == 404 and error(seen)["code"] == "not_found"
    release = _post(gateway, "/v1/payments/PAY-6/releases", {"request_id": "R-1",
                                                              "code": "000000"},
                    key_b, terminal=SHOP_B)
    assert release.status_code == 404
    assert _get(gateway, "/v1/payments/PAY-6").json()["state"] == "held"


def test_the_code_the_holder_was_given_releases_the_payment_on_delivery(gateway: Host) -> None:
    centre = SettlementCentre(gateway.office.db)  # the holder's side places a code order
    _, code, _ = centre.place_order(OrderRequest(
        "PAY-7", "zhang", "shop-a", 300_00, Condition.CODE, ADDRESS,
        NOW + dt.timedelta(days=30)), at=NOW)
    assert code is not None
    wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
    refused = _post(gateway, "/v1/payments/PAY-7/releases", {"request_id": "R-1",
                                                             "code": wrong})
    assert refused.status_code == 422 and error(refused)["reason"] == "wrong_code"
    released = _post(gateway, "/v1/payments/PAY-7/releases", {"request_id": "R-2",
                                                              "code": code})
    assert released.status_code == 200, released.text
    assert (released.json()["state"], released.json()["moved"]) == ("released", 300_00)
    again = _post(gateway, "/v1/payments/PAY-7/releases", {"request_id": "R-2",
                                                           "code": code})
    assert again.status_code == 200 and again.json()["repeated"] is True


def test_a_prepaid_payment_draws_from_the_merchants_program_only(gateway: Host) -> None:
    prepaid = PrepaidOffice(gateway.office.db)
    prepaid.add_program(Program("tea-club", "shop-a", ProgramKind.BONUS, 500_000, "insurer"),
                        at=START)
    account = prepaid.issue("club-1", "tea-club", "zhang", 700_000, at=START)["account"]
    paid = _post(gateway, "/v1/prepaid/payments", {"request_id": "pp-1", "account": account,
                                                   "amount": 550_000})
    assert paid.status_code == 200, paid.text
    assert paid.json()["charged"] == 550_000 and len(paid.json()["draws"]) == 2
    key_b = _shop_b(gateway)
    foreign = _post(gateway, "/v1/prepaid/payments", {"request_id": "pp-2",
                                                      "account": account, "amount": 1_00},
                    key_b, terminal=SHOP_B)
    assert foreign.status_code == 422 and "shop-a" in error(foreign)["message"]
    assert prepaid.balance(account)["balance"] == 150_000


def _card_of(service: Host, member_id: str) -> str:
    with service.office.db.read() as conn:
        card_id = find_member(conn, member_id).card_id
    assert card_id is not None
    return card_id


def test_a_prepaid_payment_names_the_holder_by_the_card_read_from_chip_1(gateway: Host) -> None:
    prepaid = PrepaidOffice(gateway.office.db)
    prepaid.add_program(Program("tea-club", "shop-a", ProgramKind.BONUS, 500_000, "insurer"),
                        at=START)
    account = prepaid.issue("club-2", "tea-club", "zhang", 700_000, at=START)["account"]
    doc = {"request_id": "pp-card-1", "card_id": _card_of(gateway, "zhang"), "amount": 2_00}
    paid = _post(gateway, "/v1/prepaid/payments", doc)
    assert paid.status_code == 200, paid.text
    assert paid.json()["account"] == account and paid.json()["charged"] == 2_00
    again = _post(gateway, "/v1/prepaid/payments", doc)  # a repeat posts once
    assert again.status_code == 200 and prepaid.balance(account)["balance"] == 699_800
    both = _post(gateway, "/v1/prepaid/payments", {**doc, "request_id": "pp-card-2",
                                                    "account": account})
    assert both.status_code == 422 and error(both)["field"] == "account"
    stranger = _post(gateway, "/v1/prepaid/payments", {**doc, "request_id": "pp-card-3",
                                                        "card_id": "NO-SUCH-CARD"})
    assert stranger.status_code == 404 and "NO-SUCH-CARD" in error(stranger)["message"]
    key_b = _shop_b(gateway)  # the card holds no account of shop B's programs
    foreign = _post(gateway, "/v1/prepaid/payments", {**doc, "request_id": "pp-card-4"},
                    key_b, terminal=SHOP_B)
    assert foreign.status_code == 404 and prepaid.balance(account)["balance"] == 699_800
