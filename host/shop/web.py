"""The example merchant web shop: server-rendered pages over :mod:`.flow`.

The holder logs in (member id and the password an operator set), puts items in a basket,
gives the delivery address and the release condition, and swipes: the PIN typed on the
checkout page stands in for the personal reader's PIN pad, and the reader this process
was started with (:class:`ReaderSlot`) authenticates with the card in it. The merchant's
page (HTTP Basic: the merchant id and the shop's merchant token) lists the orders that
arrived and prints one (ESC/POS and PDF files in the print directory).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from apdu_specs.errors import DualcardError
from host.backoffice.addresses import DeliveryAddress
from host.backoffice.errors import ValidationError
from host.reader import BindingClient, PersonalReader
from host.slips import Item, money

from .errors import ShopLoginError
from .flow import Checkout, place_order, print_order, swipe
from .store import CATALOGUE, ShopStore
from .terminal import MerchantTerminal

__all__ = ["ReaderSlot", "ShopSite", "serve_in_thread", "shop_app"]

_COOKIE = "dualcard_shop"
#: how long a login lasts
SESSION_SECONDS = 30 * 60


@dataclass
class ReaderSlot:
    """The holder's personal reader and the card in it (``connect``: a new link to it)."""

    reader: PersonalReader
    connect: Callable[[], BindingClient]
    aid: bytes
    zpk: bytes  #: the PIN key the blocks are made under (the sending terminal's ZPK)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ShopSite:
    store: ShopStore
    terminal: MerchantTerminal
    merchant_id: str
    merchant_token: str
    slot: ReaderSlot
    print_dir: Path
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"ShopSite({self.merchant_id}, {self.store})"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}"
                        f"</title></head><body><h1>{escape(title)}</h1>{body}</body></html>",
                        status)


async def _form(request: Request) -> dict[str, str]:
    raw = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in raw.items()}


def _session(site: ShopSite, request: Request) -> dict[str, Any] | None:
    """The logged-in holder's session, while it is younger than :data:`SESSION_SECONDS`."""
    token = request.cookies.get(_COOKIE, "")
    session = site.sessions.get(token)
    if session is not None and time.monotonic() - session["since"] > SESSION_SECONDS:
        del site.sessions[token]
        return None
    return session


# -- the holder's pages ---------------------------------------------------------------------


def _login_form(message: str = "") -> str:
    return (f"<p>{escape(message)}</p><form method='post' action='/login'>"
            "<input name='member_id'> <input name='password' type='password'>"
            "<button>Log in</button></form>")


def _catalogue(session: dict[str, Any]) -> str:
    rows = "".join(f"<li>{escape(item.name)} {money(item.unit_price)} <form method='post' "
                   f"action='/basket'><input type='hidden' name='item' value='{key}'>"
                   "<button>Add</button></form></li>" for key, item in CATALOGUE.items())
    basket = "".join(f"<li>{escape(CATALOGUE[k].name)} × {n}</li>"
                     for k, n in session["basket"].items())
    return (f"<ul>{rows}</ul><h2>Basket</h2><ul id='basket'>{basket}</ul>"
            "<p><a href='/checkout'>Checkout</a></p>")


def home(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        session = _session(site, request)
        if session is None:
            return _page("Alliance Shop: log in", _login_form())
        return _page(f"Alliance Shop: {session['account'].name}", _catalogue(session))
    return endpoint


def login(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        form = await _form(request)
        try:
            account = await run_in_threadpool(site.store.login, form.get("member_id", ""),
                                              form.get("password", ""))
        except ShopLoginError as exc:
            return _page("Alliance Shop: log in", _login_form(str(exc)), 401)
        token = secrets.token_urlsafe(24)
        site.sessions[token] = {"account": account, "basket": {}, "since": time.monotonic()}
        response = RedirectResponse("/", 303)
        response.set_cookie(_COOKIE, token, httponly=True, samesite="strict")
        return response
    return endpoint


def add_to_basket(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        session = _session(site, request)
        item = (await _form(request)).get("item", "")
        if session is None or item not in CATALOGUE:
            return _page("Not in the shop", "<p>log in, and choose an item of the shop</p>", 400)
        session["basket"][item] = session["basket"].get(item, 0) + 1
        return RedirectResponse("/", 303)
    return endpoint


_CHECKOUT_FORM = (
    "<form method='post' action='/checkout'>"
    "<p>Street <input name='street'> Postcode <input name='postcode'> City <input name='city'></p>"
    "<p>Release <select name='condition'><option value='acceptance'>when I accept the goods"
    "</option><option value='date'>on a date</option></select> "
    "<input name='release_at' placeholder='2030-03-20T00:00:00+08:00'></p>"
    "<p>Swipe your card in your reader and type its PIN <input name='pin' type='password'></p>"
    "<button>Swipe and order</button></form>")


def checkout_page(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if _session(site, request) is None:
            return RedirectResponse("/", 303)
        return _page("Checkout", _CHECKOUT_FORM)
    return endpoint


def _checkout_of(session: dict[str, Any], form: dict[str, str]) -> Checkout:
    """The order the form and the basket describe; :class:`ValidationError` names a field."""
    if not session["basket"]:
        raise ValidationError("the basket is empty")
    items = tuple(Item(CATALOGUE[k].name, n, CATALOGUE[k].unit_price)
                  for k, n in session["basket"].items())
    address = DeliveryAddress(form.get("street", ""), form.get("postcode", ""),
                              form.get("city", ""))
    condition = form.get("condition", "acceptance")
    if condition not in ("acceptance", "date"):
        raise ValidationError("release: acceptance or date")
    try:
        release_at = (dt.datetime.fromisoformat(form["release_at"])
                      if condition == "date" else None)
    except (KeyError, ValueError):
        raise ValidationError("release_at: a date and time with its UTC offset") from None
    order_id = f"WEB-{secrets.token_hex(4).upper()}"
    return Checkout(order_id, session["account"], items, address, condition,
                    release_at=release_at)


def _swipe_and_order(site: ShopSite, checkout: Checkout, pin: str) -> str:
    slot = site.slot
    with slot.lock:
        card = swipe(slot.reader, slot.connect(), slot.aid, pin, slot.zpk)
    placed = place_order(site.terminal, site.store, site.merchant_id, checkout, card)
    return placed.order.order_id


def place(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        session = _session(site, request)
        if session is None:
            return RedirectResponse("/", 303)
        form = await _form(request)
        try:
            checkout = _checkout_of(session, form)
            order_id = await run_in_threadpool(_swipe_and_order, site, checkout,
                                               form.get("pin", ""))
        except DualcardError as exc:
            return _page("Order refused", f"<p id='reason'>{escape(str(exc))}</p>", 422)
        session["basket"] = {}
        return _page("Order placed", f"<p>Order <b id='order'>{order_id}</b>: "
                     f"{money(checkout.amount)} held until "
                     f"{escape(checkout.condition)}.</p>")
    return endpoint


# -- the merchant's pages -------------------------------------------------------------------


def _merchant(site: ShopSite, request: Request) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, token = base64.b64decode(value).decode().partition(":")
    except ValueError:
        return False
    return user == site.merchant_id and hmac.compare_digest(token, site.merchant_token)


def _challenge() -> Response:
    return Response("merchant id and token needed", 401,
                    {"WWW-Authenticate": 'Basic realm="merchant"'})


def orders_page(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if not _merchant(site, request):
            return _challenge()
        rows = "".join(f"<tr><td>{o.order_id}</td><td>{escape(o.holder_name)}</td>"
                       f"<td>{money(o.amount)}</td><td>{escape(o.condition)}</td><td>"
                       f"<form method='post' action='/merchant/orders/{o.order_id}/print'>"
                       "<button>Print</button></form></td></tr>" for o in site.store.orders())
        return _page("Orders", f"<table id='orders'>{rows}</table>")
    return endpoint


def print_page(site: ShopSite) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        if not _merchant(site, request):
            return _challenge()
        order_id = request.path_params["order_id"]
        try:
            escpos, pdf = await run_in_threadpool(print_order, site.terminal, site.store,
                                                  order_id, site.print_dir)
        except DualcardError as exc:
            return _page("Not printed", f"<p id='reason'>{escape(str(exc))}</p>", 404)
        return _page("Printed", f"<p>Order {order_id}: <span id='escpos'>{escpos}</span>, "
                     f"<span id='pdf'>{pdf}</span></p>")
    return endpoint


def shop_app(site: ShopSite) -> Starlette:
    return Starlette(routes=[
        Route("/", home(site)),
        Route("/login", login(site), methods=["POST"]),
        Route("/basket", add_to_basket(site), methods=["POST"]),
        Route("/checkout", checkout_page(site)),
        Route("/checkout", place(site), methods=["POST"]),
        Route("/merchant/orders", orders_page(site)),
        Route("/merchant/orders/{order_id}/print", print_page(site), methods=["POST"]),
    ])


@contextmanager
def serve_in_thread(app: Starlette, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread (tests, an
    embedding program); its base URL. On exit the server shuts down gracefully."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=0, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, name="dualcard-shop", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the shop's server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
