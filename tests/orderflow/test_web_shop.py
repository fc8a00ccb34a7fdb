"""The example web shop over loopback, driven with httpx as a browser would: log in, fill
the basket, check out with the swipe at the bound reader, the order on the merchant's page,
printed from there; refusals shown with their reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.shop import web
from host.shop.web import ReaderSlot, ShopSite, serve_in_thread, shop_app
from tests.reader.helpers import AID, READER_B, client, reader

from .conftest import ADDRESS, PASSWORD, PIN, ZPK, Shop

TOKEN = "merchant-token-0001"
MERCHANT = ("shop-a", TOKEN)


def _site(shop: Shop, tmp_path: Path, holder_reader: object = None) -> ShopSite:
    slot = ReaderSlot(holder_reader or shop.reader, lambda: client(shop.card), AID, ZPK)  # type: ignore[arg-type]
    return ShopSite(shop.store, shop.terminal, "shop-a", TOKEN, slot, tmp_path / "printed")


@pytest.fixture
def browser(shop: Shop, tmp_path: Path) -> Iterator[httpx.Client]:
    with serve_in_thread(shop_app(_site(shop, tmp_path))) as base, \
            httpx.Client(base_url=base, timeout=30) as session:
        yield session


def _log_in_and_fill(browser: httpx.Client, *items: str) -> None:
    assert browser.post("/login", data={"member_id": "zhang", "password": PASSWORD}
                        ).status_code == 303
    for item in items:
        assert browser.post("/basket", data={"item": item}).status_code == 303


def _order(browser: httpx.Client, **address: str) -> httpx.Response:
    form = {"street": ADDRESS.street, "postcode": ADDRESS.postcode, "city": ADDRESS.city,
            "condition": "acceptance", "pin": PIN, **address}
    return browser.post("/checkout", data=form)


def test_a_holder_orders_and_the_merchant_prints_it(shop: Shop, browser: httpx.Client,
                                                    tmp_path: Path) -> None:
    _log_in_and_fill(browser, "tea", "tea", "book")
    assert "× 2" in browser.get("/").text
    placed = _order(browser)
    assert placed.status_code == 200, placed.text
    match = re.search(r"id='order'>(WEB-[0-9A-F]{8})<", placed.text)
    assert match is not None
    order_id = match.group(1)
    assert shop.terminal.expect("GET", f"/v1/payments/{order_id}")["held"] == 2 * 4500 + 8800
    assert browser.get("/merchant/orders").status_code == 401
    listed = browser.get("/merchant/orders", auth=MERCHANT)
    assert order_id in listed.text
    printed = browser.post(f"/merchant/orders/{order_id}/print", auth=MERCHANT)
    assert printed.status_code == 200, printed.text
    assert (tmp_path / "printed" / f"{order_id}.bin").read_bytes().startswith(b"\x1b@")
    assert (tmp_path / "printed" / f"{order_id}.pdf").read_bytes().startswith(b"%PDF")


def test_a_wrong_password_and_a_foreign_address_are_refused(browser: httpx.Client,
                                                            shop: Shop) -> None:
    refused = browser.post("/login", data={"member_id": "zhang", "password": "guess-guess"})
    assert refused.status_code == 401 and "checkout" not in refused.text.lower()
    _log_in_and_fill(browser, "cooker")
    elsewhere = _order(browser, street="1 Other Street")
    assert elsewhere.status_code == 422 and "not the holder" in elsewhere.text
    assert shop.store.orders() == []


def test_a_card_in_an_unbound_reader_orders_nothing(shop: Shop, tmp_path: Path) -> None:
    site = _site(shop, tmp_path, reader(READER_B))
    with serve_in_thread(shop_app(site)) as base, httpx.Client(base_url=base) as browser:
        _log_in_and_fill(browser, "tea")
        refused = _order(browser)
    assert refused.status_code == 422 and "not bound to reader" in refused.text
    assert shop.store.orders() == []


def test_an_old_login_is_forgotten(browser: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _log_in_and_fill(browser, "tea")
    assert "Basket" in browser.get("/").text
    monkeypatch.setattr(web, "SESSION_SECONDS", -1)
    assert "log in" in browser.get("/").text
    assert browser.post("/basket", data={"item": "tea"}).status_code == 400


_FIELD = st.text(st.characters(codec="utf-8"), max_size=40)


def test_any_checkout_form_answers_a_page_never_an_error_of_the_shop(
        browser: httpx.Client) -> None:
    _log_in_and_fill(browser, "book")

    @settings(max_examples=40, deadline=None)
    @given(form=st.dictionaries(st.sampled_from(["street", "postcode", "city", "condition",
                                                 "release_at", "pin"]), _FIELD))
    def check(form: dict[str, str]) -> None:
        browser.post("/basket", data={"item": "book"})
        answer = browser.post("/checkout", data=form)
        assert answer.status_code in (200, 422), answer.text
        if answer.status_code == 422:
            assert "id='reason'" in answer.text

    check()
