"""The online order flow end to end over loopback, in process: login, swipe at the bound
personal reader, the authentication centre's checks, the payment held through the gateway,
the order at the merchant and printed, delivery, release, settlement."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from host.backoffice.addresses import DeliveryAddress
from host.backoffice.centre import ReleaseBy
from host.reader.errors import CardNotBoundHereError
from host.shop import (
    Checkout,
    GatewayRefusalError,
    ShopLoginError,
    Swipe,
    place_code_order,
    place_order,
    print_order,
    swipe,
)
from host.shop.store import CATALOGUE, MAX_FAILURES
from host.slips import Item, decode_escpos
from tests.reader.helpers import AID, READER_B, client, reader

from .conftest import ADDRESS, PASSWORD, PIN, ZPK, Shop

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _checkout(shop: Shop, order_id: str, *, quantity: int = 1,
              address: DeliveryAddress = ADDRESS, condition: str = "acceptance",
              release_at: dt.datetime | None = None) -> Checkout:
    tea = CATALOGUE["tea"]
    items = (Item(tea.name, quantity, tea.unit_price), CATALOGUE["cooker"])
    return Checkout(order_id, shop.account, items, address, condition, release_at=release_at)


def _swipe(shop: Shop, pin: str = PIN) -> Swipe:
    return swipe(shop.reader, client(shop.card), AID, pin, ZPK)


def test_an_order_from_login_to_settlement(shop: Shop, tmp_path: Path) -> None:
    account = shop.store.login("zhang", PASSWORD)
    placed = place_order(shop.terminal, shop.store, "shop-a",
                         _checkout(shop, "WEB-0001", quantity=2), _swipe(shop))
    assert account.card_id == shop.account.card_id
    assert (placed.payment["state"], placed.payment["held"]) == ("held", 2 * 4500 + 29900)
    assert [o.order_id for o in shop.store.orders()] == ["WEB-0001"]  # arrived at the merchant
    escpos, pdf = print_order(shop.terminal, shop.store, "WEB-0001", tmp_path / "printed")
    lines = decode_escpos(escpos.read_bytes())
    assert any("WEB-0001" in line for line in lines)
    assert any(line.rstrip().endswith("389.00") for line in lines)
    assert pdf.read_bytes().startswith(b"%PDF")
    outcome = shop.centre.release("WEB-0001", "accepted-1", by=ReleaseBy.HOLDER, at=NOW)
    assert outcome.moved == 389_00
    settled = shop.terminal.expect("GET", "/v1/payments/WEB-0001")
    assert (settled["state"], settled["released"], settled["held"]) == ("released", 389_00, 0)


def test_an_order_released_on_its_date(shop: Shop, tmp_path: Path) -> None:
    release_at = NOW + dt.timedelta(days=3)
    place_order(shop.terminal, shop.store, "shop-a",
                _checkout(shop, "WEB-0002", condition="date", release_at=release_at),
                _swipe(shop))
    escpos, _ = print_order(shop.terminal, shop.store, "WEB-0002", tmp_path)
    assert release_at.isoformat()[:10] in "".join(decode_escpos(escpos.read_bytes()))
    assert shop.centre.run_due(at=NOW + dt.timedelta(days=1))["released"] == []
    assert shop.centre.run_due(at=release_at + dt.timedelta(hours=1))["released"] == ["WEB-0002"]
    assert shop.terminal.expect("GET", "/v1/payments/WEB-0002")["state"] == "released"


def test_a_code_order_is_released_by_the_holders_code(shop: Shop) -> None:
    placed = place_code_order(shop.terminal, shop.centre, shop.store, "shop-a",
                              _checkout(shop, "WEB-0003"), _swipe(shop), at=NOW)
    assert placed.code is not None and placed.order.condition == "code"
    assert shop.store.order("WEB-0003").condition == "code"
    released = shop.terminal.expect("POST", "/v1/payments/WEB-0003/releases",
                                    {"request_id": "delivery-1", "code": placed.code})
    assert (released["state"], released["moved"]) == ("released", 344_00)


def test_a_wrong_password_does_not_log_in(shop: Shop) -> None:
    for member, password in (("zhang", "not-the-password"), ("nobody", PASSWORD)):
        with pytest.raises(ShopLoginError):
            shop.store.login(member, password)


# -- hostile cases ----------------------------------------------------------------------------


def _nothing_held(shop: Shop, order_id: str) -> None:
    status, _ = shop.terminal.call("GET", f"/v1/payments/{order_id}")
    assert status == 404
    assert shop.store.orders() == []


def test_an_address_not_on_file_is_refused(shop: Shop) -> None:
    elsewhere = DeliveryAddress("1 Other Street", "100020", "Beijing")
    with pytest.raises(GatewayRefusalError) as refused:
        place_order(shop.terminal, shop.store, "shop-a",
                    _checkout(shop, "WEB-0004", address=elsewhere), _swipe(shop))
    assert refused.value.reason == "address_not_on_file"
    _nothing_held(shop, "WEB-0004")


def test_an_order_over_the_credit_line_is_refused(shop: Shop) -> None:
    with pytest.raises(GatewayRefusalError) as refused:
        place_order(shop.terminal, shop.store, "shop-a",
                    _checkout(shop, "WEB-0005", quantity=200), _swipe(shop))
    assert refused.value.reason == "over_credit_line"
    _nothing_held(shop, "WEB-0005")


def test_a_wrong_pin_is_refused(shop: Shop) -> None:
    with pytest.raises(GatewayRefusalError) as refused:
        place_order(shop.terminal, shop.store, "shop-a", _checkout(shop, "WEB-0006"),
                    _swipe(shop, pin="9999"))
    assert refused.value.reason == "pin"
    _nothing_held(shop, "WEB-0006")


def test_a_guessed_release_code_locks(shop: Shop) -> None:
    placed = place_code_order(shop.terminal, shop.centre, shop.store, "shop-a",
                              _checkout(shop, "WEB-0007"), _swipe(shop), at=NOW)
    assert placed.code is not None
    guesses = [f"{n:06d}" for n in range(10) if f"{n:06d}" != placed.code][:6]
    reasons = []
    for number, guess in enumerate(guesses):
        status, answer = shop.terminal.call("POST", "/v1/payments/WEB-0007/releases",
                                            {"request_id": f"guess-{number}", "code": guess})
        assert status == 422
        reasons.append(answer["error"]["reason"])
    assert reasons[0] == "wrong_code" and reasons[-1] == "code_locked"
    status, answer = shop.terminal.call("POST", "/v1/payments/WEB-0007/releases",
                                        {"request_id": "right", "code": placed.code})
    assert (status, answer["error"]["reason"]) == (422, "code_locked")
    assert shop.terminal.expect("GET", "/v1/payments/WEB-0007")["state"] == "held"


def test_a_merchant_cannot_print_another_merchants_order(shop: Shop, tmp_path: Path) -> None:
    place_order(shop.terminal, shop.store, "shop-a", _checkout(shop, "WEB-0008"), _swipe(shop))
    with pytest.raises(GatewayRefusalError) as refused:
        print_order(shop.other, shop.store, "WEB-0008", tmp_path / "b-printed")
    assert refused.value.reason == "not_this_merchants"
    assert not (tmp_path / "b-printed").exists()


def test_a_card_in_an_unbound_reader_places_nothing(shop: Shop) -> None:
    stranger = reader(READER_B)
    with pytest.raises(CardNotBoundHereError):
        swipe(stranger, client(shop.card), AID, PIN, ZPK)
    assert shop.store.orders() == []


def test_wrong_passwords_lock_the_account_until_a_new_one_is_set(shop: Shop) -> None:
    for _ in range(MAX_FAILURES):
        with pytest.raises(ShopLoginError, match="password wrong"):
            shop.store.login("zhang", "not-the-password")
    with pytest.raises(ShopLoginError, match="locked"):
        shop.store.login("zhang", PASSWORD)
    shop.store.set_account("zhang", shop.account.card_id, shop.account.name, "a-new-password")
    assert shop.store.login("zhang", "a-new-password").member_id == "zhang"
