"""`dualcard shop …`: the example merchant web shop and the online order flow from the
command line (docs/online-order.md).

``account`` is the operator setting a holder's password; ``order`` is the holder's side
(log in, basket, swipe at the personal reader, PIN, order); ``orders``, ``print``,
``status`` and ``release`` are the merchant's, through the gateway with the terminal's key
file; ``serve`` runs the web shop.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..backoffice.addresses import DeliveryAddress
from ..reader import BindingClient, PersonalReader, ReaderKeyStore
from ..service.mac import read_key_file
from ..service.pin_keys import read_pin_key_file
from ..shop import (
    Checkout,
    GatewayRefusalError,
    MerchantTerminal,
    PlacedOrder,
    ShopError,
    ShopLoginError,
    ShopStore,
    Swipe,
    place_code_order,
    place_order,
    print_order,
    swipe,
)
from ..shop.store import CATALOGUE
from ..slips import Item, decode_escpos, money
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .options import reader_option
from .personal_reader_cmds import _aid, _connect

__all__ = ["shop"]

register_error(ShopLoginError, ExitCode.AUTHENTICATION)
register_error(ShopError, ExitCode.USAGE)
register_error(GatewayRefusalError, ExitCode.FAILURE)

_SHOP = click.option("--shop", "shop_dir", type=click.Path(file_okay=False), required=True,
                     help="the shop's directory (accounts, orders)")


def _terminal_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--service", required=True, metavar="URL",
                     help="the service host's HTTP door (http://127.0.0.1:8080)"),
        click.option("--terminal-key", type=click.Path(exists=True, dir_okay=False),
                     required=True, help="the shop terminal's key file (`dualcard host "
                     "terminal add --key-out`)"),
    )):
        fn = option(fn)
    return fn


def _terminal(service: str, key_file: str) -> MerchantTerminal:
    terminal_id, key = read_key_file(key_file)
    return MerchantTerminal(service.rstrip("/"), terminal_id, key)


@click.group("shop")
def shop() -> None:
    """The example merchant web shop and the online order flow."""


@shop.command("account")
@click.argument("member_id")
@_SHOP
@click.option("--card-id", required=True, help="the holder's card identity at the alliance")
@click.option("--name", required=True, help="the name on orders")
@click.password_option("--password", envvar="DUALCARD_SHOP_PASSWORD",
                       confirmation_prompt=False, help="read from the prompt or the environment")
@cli_errors
def account_cmd(member_id: str, shop_dir: str, card_id: str, name: str, password: str) -> None:
    """[!] Set MEMBER_ID's shop account and password (an operator's act)."""
    ShopStore(shop_dir).set_account(member_id, card_id, name, password)
    click.echo(f"shop account {member_id}: password set")


def _items(specs: tuple[str, ...]) -> tuple[Item, ...]:
    counts: dict[str, int] = {}
    for spec in specs:
        if spec not in CATALOGUE:
            raise click.BadParameter(f"{spec!r}: one of {', '.join(CATALOGUE)}", param_hint="--item")
        counts[spec] = counts.get(spec, 0) + 1
    return tuple(Item(CATALOGUE[k].name, n, CATALOGUE[k].unit_price) for k, n in counts.items())


def _checkout(shop_dir: str, member_id: str, password: str, items: tuple[str, ...],
              address: DeliveryAddress, condition: str, release_at: dt.datetime | None,
              order_id: str | None) -> Checkout:
    account = ShopStore(shop_dir).login(member_id, password)
    return Checkout(order_id or f"WEB-{secrets.token_hex(4).upper()}", account, _items(items),
                    address, condition, release_at=release_at)


@shop.command("order")
@_SHOP
@_terminal_options
@click.option("--merchant", "merchant_id", required=True, help="the shop's merchant id")
@click.option("--member", "member_id", required=True, help="the holder's member id (login)")
@click.password_option("--password", envvar="DUALCARD_SHOP_PASSWORD",
                       confirmation_prompt=False, help="read from the prompt or the environment")
@click.option("--item", "items", multiple=True, required=True,
              help=f"an item for the basket, once per piece ({', '.join(CATALOGUE)})")
@click.option("--street", required=True)
@click.option("--postcode", required=True)
@click.option("--city", default="")
@click.option("--condition", type=click.Choice(["acceptance", "date", "code"]),
              default="acceptance", show_default=True,
              help="what releases the money to the merchant (code: the holder's side places "
                   "it at the settlement centre, --db)")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="the settlement centre's database, for a code order (the holder's session)")
@click.option("--release-at", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z"]), default=None,
              help="the release date of a date order")
@click.option("--order-id", default=None, help="the order id (default: a new one)")
@reader_option
@click.option("--keys", "keys_path", type=click.Path(dir_okay=False), required=True,
              help="the personal reader's key store")
@click.option("--zpk", "zpk_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="the PIN key file the PIN block is made under")
@cli_errors
def order_cmd(shop_dir: str, service: str, terminal_key: str, merchant_id: str,
              member_id: str, password: str, items: tuple[str, ...], street: str,
              postcode: str, city: str, condition: str, release_at: dt.datetime | None,
              db_url: str | None, order_id: str | None, reader: str | None, keys_path: str,
              zpk_file: str) -> None:
    """[!] Log in, swipe at the personal reader, type the PIN, and order."""
    if (condition == "code") != (db_url is not None):
        raise click.UsageError("--db goes with a code order, and only with it")
    checkout = _checkout(shop_dir, member_id, password, items,
                         DeliveryAddress(street, postcode, city), condition, release_at, order_id)
    personal = PersonalReader(ReaderKeyStore.load(keys_path))
    zpk = read_pin_key_file(zpk_file).key
    with _connect(reader, False, "apdu", save=False) as link:
        client = BindingClient(link.chip(1))
        aid = _aid(client, None)
        pin = click.prompt("PIN", hide_input=True, err=True)
        card = swipe(personal, client, aid, pin, zpk)
    terminal, store = _terminal(service, terminal_key), ShopStore(shop_dir)
    if db_url is None:
        placed = place_order(terminal, store, merchant_id, checkout, card)
    else:
        placed = _code_order(db_url, terminal, store, merchant_id, checkout, card)
    click.echo(f"order {placed.order.order_id}: {money(placed.order.amount)} held for "
               f"{merchant_id} until {condition}")
    if placed.code is not None:
        click.echo(f"release code (give it to the courier on delivery only): {placed.code}")


def _code_order(db_url: str, terminal: MerchantTerminal, store: ShopStore, merchant_id: str,
                checkout: Checkout, card: Swipe) -> PlacedOrder:
    from ..backoffice.centre import SettlementCentre

    centre = SettlementCentre(db_url)
    try:
        return place_code_order(terminal, centre, store, merchant_id, checkout, card,
                                at=dt.datetime.now(dt.UTC))
    finally:
        centre.close()


@shop.command("orders")
@_SHOP
@cli_errors
def orders_cmd(shop_dir: str) -> None:
    """The orders that arrived at the merchant."""
    for order in ShopStore(shop_dir).orders():
        click.echo(f"{order.order_id:<14} {order.holder_id:<10} {money(order.amount):>16}  "
                   f"{order.condition}")


@shop.command("print")
@click.argument("order_id")
@_SHOP
@_terminal_options
@click.option("--to", "directory", type=click.Path(file_okay=False), required=True,
              help="where the ESC/POS and PDF files go")
@click.option("--show", is_flag=True, help="also print the ESC/POS slip decoded")
@cli_errors
def print_cmd(order_id: str, shop_dir: str, service: str, terminal_key: str, directory: str,
              show: bool) -> None:
    """Print ORDER_ID at the merchant, if the gateway says it is this terminal's merchant's."""
    escpos, pdf = print_order(_terminal(service, terminal_key), ShopStore(shop_dir), order_id,
                              directory)
    if show:
        click.echo("\n".join(decode_escpos(escpos.read_bytes())))
    click.echo(f"order {order_id}: printed to {escpos} and {pdf}")


def _show_payment(payment: dict[str, Any]) -> str:
    return (f"payment {payment['payment_id']} {payment['state']}: "
            f"{money(int(payment['released']))} released to {payment['merchant']}, "
            f"{money(int(payment['held']))} held")


@shop.command("status")
@click.argument("order_id")
@_terminal_options
@cli_errors
def status_cmd(order_id: str, service: str, terminal_key: str) -> None:
    """The order's payment at the gateway: held, released, voided or expired."""
    click.echo(_show_payment(_terminal(service, terminal_key).expect(
        "GET", f"/v1/payments/{order_id}")))


@shop.command("release")
@click.argument("order_id")
@_terminal_options
@click.option("--id", "request_id", required=True, help="this release request's id")
@click.password_option("--code", confirmation_prompt=False, prompt="Code",
                       help="the code the holder gives on delivery")
@cli_errors
def release_cmd(order_id: str, service: str, terminal_key: str, request_id: str,
                code: str) -> None:
    """On delivery: enter the holder's code for a code order."""
    answer = _terminal(service, terminal_key).expect(
        "POST", f"/v1/payments/{order_id}/releases", {"request_id": request_id, "code": code})
    click.echo(_show_payment(answer))


@shop.command("serve")
@_SHOP
@_terminal_options
@click.option("--merchant", "merchant_id", required=True, help="the shop's merchant id")
@click.option("--merchant-token", envvar="DUALCARD_SHOP_MERCHANT_TOKEN", required=True,
              help="the merchant's password for the order pages (HTTP Basic); from the "
                   "environment")
@reader_option
@click.option("--keys", "keys_path", type=click.Path(dir_okay=False), required=True,
              help="the holder's personal reader's key store")
@click.option("--zpk", "zpk_file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="the PIN key file the PIN blocks are made under")
@click.option("--print-dir", type=click.Path(file_okay=False), default="printed",
              show_default=True, help="where printed orders go")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@cli_errors
def serve_cmd(shop_dir: str, service: str, terminal_key: str, merchant_id: str,
              merchant_token: str, reader: str | None, keys_path: str, zpk_file: str,
              print_dir: str, host: str, port: int) -> None:
    """Serve the example web shop until interrupted."""
    import uvicorn

    from ..shop.web import ReaderSlot, ShopSite, shop_app

    personal = PersonalReader(ReaderKeyStore.load(keys_path))
    with _connect(reader, False, "apdu", save=False) as link:
        probe = BindingClient(link.chip(1))
        slot = ReaderSlot(personal, lambda: BindingClient(link.chip(1)), _aid(probe, None),
                          read_pin_key_file(zpk_file).key)
        site = ShopSite(ShopStore(shop_dir), _terminal(service, terminal_key), merchant_id,
                        merchant_token, slot, Path(print_dir))
        uvicorn.run(shop_app(site), host=host, port=port, log_level="info")
