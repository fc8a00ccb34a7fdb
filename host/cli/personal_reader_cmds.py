"""`dualcard reader …`: the personal reader bound to its card (init, bind, unbind, status).

The card is reached through ``host.connect.open_card`` (``--reader pcsc:NAME`` or
``sim:IMAGE``); the reader's keys are a software key store (``--keys``); binding and
unbinding need the issuer's keys and, with ``--db``, are recorded in the back office.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from apdu_specs.hexutil import to_hex

from ..connect import open_card
from ..payment.client import PaymentClient
from ..payment.errors import CardDataError
from ..payment.keys import load_issuer_keys
from ..reader import (
    BindingClient,
    BindingIssuer,
    CardIdentity,
    CardNotBoundHereError,
    CardProofError,
    PersonalModeError,
    PersonalReader,
    ReaderKeyError,
    ReaderKeyStore,
    bind,
    unbind,
)
from .card_io import emit
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .options import HEX, json_option, reader_option, trace_option

__all__ = ["reader"]

for _error in (CardNotBoundHereError, CardProofError, PersonalModeError):
    register_error(_error, ExitCode.AUTHENTICATION)
register_error(ReaderKeyError, ExitCode.USAGE)

_KEYS = click.option("--keys", "keys_path", type=click.Path(dir_okay=False), required=True,
                     help="the reader's key store (JSON, made by `dualcard reader init`)")
_ISSUER = click.option("--issuer-keys", type=click.Path(dir_okay=False), required=True,
                       help="the issuer's key file (imk_ac, imk_smi, imk_smc, …)")
_AID = click.option("--aid", type=HEX, default=None,
                    help="payment application AID (default: the card's highest priority)")
_DB = click.option("--db", default=None, metavar="URL",
                   help="back office database to record the binding in (URL or SQLite file)")


def _connect(reader_name: str | None, trace: bool, trace_format: str, save: bool) -> Any:
    return open_card(reader_name, chips=(1,), trace=sys.stderr if trace else None,
                     trace_format=trace_format, save_on_exit=save)


def _aid(client: BindingClient, aid: bytes | None) -> bytes:
    if aid is not None:
        return aid
    apps = PaymentClient(client.transport).list_applications()
    if not apps:
        raise CardDataError("the card lists no payment application")
    return apps[0].aid


@click.group("reader")
def reader() -> None:
    """The personal reader bound to its card: key store, bind, unbind, status."""


@reader.command("init")
@_KEYS
@click.option("--reader-id", type=HEX, required=True, help="the reader's identity (8 bytes hex)")
@cli_errors
def init(keys_path: str, reader_id: bytes) -> None:
    """[!] Make an empty key store for a reader."""
    store = ReaderKeyStore.create(keys_path, reader_id)
    click.echo(f"reader {to_hex(store.reader_id)}: key store {keys_path}")


@reader.command("bind")
@reader_option
@_KEYS
@_ISSUER
@_AID
@_DB
@click.option("--account", default="", help="the account the reader serves (back office)")
@click.option("--address", default="", help="the reader's network address (back office)")
@trace_option
@json_option
@cli_errors
def bind_cmd(reader: str | None, keys_path: str, issuer_keys: str, aid: bytes | None,
             db: str | None, account: str, address: str, trace: bool, trace_format: str,
             as_json: bool) -> None:
    """[!] Bind the card to this reader (or rebind a card bound to another)."""
    personal = PersonalReader(ReaderKeyStore.load(keys_path))
    issuer = BindingIssuer(load_issuer_keys(issuer_keys).emv)
    with _connect(reader, trace, trace_format, save=True) as link:
        client = BindingClient(link.chip(1))
        chosen = _aid(client, aid)
        card = bind(client, chosen, issuer, personal)
    if db is not None:
        _record(db, card, chosen, personal.reader_id, account, address)
    _emit_binding(card, chosen, to_hex(personal.reader_id), "bound", as_json)


@reader.command("unbind")
@reader_option
@_ISSUER
@_AID
@_DB
@click.option("--keys", "keys_path", type=click.Path(dir_okay=False), default=None,
              help="the reader's key store, to forget the card's key too")
@trace_option
@json_option
@cli_errors
def unbind_cmd(reader: str | None, issuer_keys: str, aid: bytes | None, db: str | None,
               keys_path: str | None, trace: bool, trace_format: str, as_json: bool) -> None:
    """[!] Remove the card's binding (a lost reader needs only the issuer's keys)."""
    personal = PersonalReader(ReaderKeyStore.load(keys_path)) if keys_path else None
    issuer = BindingIssuer(load_issuer_keys(issuer_keys).emv)
    with _connect(reader, trace, trace_format, save=True) as link:
        client = BindingClient(link.chip(1))
        chosen = _aid(client, aid)
        card = unbind(client, chosen, issuer, personal)
    if db is not None:
        from ..backoffice.database import Database
        from ..backoffice.readers import record_unbinding

        record_unbinding(Database(db, ledger=False), card.card_id, to_hex(chosen))
    _emit_binding(card, chosen, "-", "unbound", as_json)


@reader.command("status")
@reader_option
@_AID
@click.option("--keys", "keys_path", type=click.Path(dir_okay=False), default=None,
              help="the reader's key store: also authenticate with the card")
@trace_option
@json_option
@cli_errors
def status_cmd(reader: str | None, aid: bytes | None, keys_path: str | None, trace: bool,
               trace_format: str, as_json: bool) -> None:
    """The card's binding (GET DATA DF30); with --keys, whether this reader opens it."""
    with _connect(reader, trace, trace_format, save=False) as link:
        client = BindingClient(link.chip(1))
        chosen = _aid(client, aid)
        client.select(chosen)
        card, state = client.identity(), client.status()
        opened = None
        if keys_path is not None:
            PersonalReader(ReaderKeyStore.load(keys_path)).open(client, chosen)
            opened = True
    out = {"aid": to_hex(chosen), "pan": card.masked, "bound": state.bound,
           "reader_id": to_hex(state.reader_id) if state.bound else None,
           "binding_counter": state.counter, "authenticated": opened}
    emit(out, as_json, "\n".join(f"{k:<16} {'-' if v is None else v}" for k, v in out.items()))


def _record(db: str, card: CardIdentity, aid: bytes, reader_id: bytes, account: str,
            address: str) -> None:
    from ..backoffice.database import Database
    from ..backoffice.readers import record_binding

    record_binding(Database(db, ledger=False), card.card_id, to_hex(aid), to_hex(reader_id),
                   account=account, network_address=address)


def _emit_binding(card: CardIdentity, aid: bytes, reader_id: str, what: str,
                  as_json: bool) -> None:
    out = {"aid": to_hex(aid), "pan": card.masked, "reader_id": reader_id, "state": what}
    emit(out, as_json, f"card {card.masked} application {to_hex(aid)}: {what}"
         + (f" to reader {reader_id}" if what == "bound" else ""))
