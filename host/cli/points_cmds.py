"""`dualcard points …`: balances, loads, spends and the log of chip 2's purses.

Keys come from the issuer key file (``--keys`` or ``$DUALCARD_POINTS_KEYS``), never from
the command line; the PIN, when a purse needs one, from a prompt. With ``sim:IMAGE``
the image is written back after ``load`` and ``spend`` whatever their outcome, because
a card keeps what it wrote (a wrong-MAC count, for one) even when a command fails.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import click

from apdu_specs.commands.purse_data import Purse

from ..connect import CardLink, open_card
from ..hsm.load_host import ProviderLoadHost
from ..hsm.uri import is_pkcs11_uri
from ..points.client import PointsClient
from ..points.errors import KeyMismatchError, PointsError, PurseMACError, WrongPINError
from ..points.keyfile import load_issuer_keys
from ..points.load_host import LoadHost
from ..points.records import PurseRecord
from ..points.security_module import PurchaseSecurityModule, SoftwarePurchaseSAM
from .card_io import emit
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .options import HEX, json_option, reader_option, trace_option

__all__ = ["points"]

for _error in (PurseMACError, KeyMismatchError, WrongPINError):
    register_error(_error, ExitCode.AUTHENTICATION)
register_error(PointsError, ExitCode.FAILURE)

_PURSE = click.Choice([p.label for p in Purse], case_sensitive=False)
_AMOUNT = click.IntRange(1, 0xFFFFFFFF)


def _keys_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--keys", "keys_path", envvar="DUALCARD_POINTS_KEYS", required=True,
                        type=click.Path(dir_okay=False), metavar="FILE",
                        help="issuer key file (JSON), or the token holding the purse masters "
                             "(pkcs11:token=…)  [env DUALCARD_POINTS_KEYS]")(fn)


def _six_bytes(ctx: click.Context, param: click.Parameter, value: bytes) -> bytes:
    if len(value) != 6:
        raise click.BadParameter(f"a terminal ID is 6 bytes, got {len(value)}")
    return value


def _terminal_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--terminal-id", type=HEX, default="000000000001", show_default=True,
                        callback=_six_bytes, help="6-byte terminal ID (hex)")(fn)


@contextmanager
def _purse_client(reader: str | None, trace: bool, trace_format: str, *,
                  save: bool = False) -> Iterator[PointsClient]:
    with open_card(reader, chips=(2,), trace=sys.stderr if trace else None,
                   trace_format=trace_format) as link:
        try:
            yield PointsClient(link.chip(2))
        finally:
            if save:
                _save(link)


def _save(link: CardLink) -> None:
    if link.save is not None:
        link.save()


def _record_line(r: PurseRecord) -> str:
    return (f"{r.when:%Y-%m-%d %H:%M:%S}  {r.txn_type.name.lower():8} {r.purse.label:11} "
            f"{r.amount:>10}  balance {r.balance_after:>10}  seq {r.card_seq:04X}  "
            f"terminal {r.terminal_id.hex().upper()}/{r.terminal_seq}  TAC {r.tac.hex().upper()}")


@click.group("points")
def points() -> None:
    """Chip 2 value points: consumption, bank and credit purses."""


@points.command("balance")
@reader_option
@trace_option
@json_option
@cli_errors
def balance(reader: str | None, trace: bool, trace_format: str, as_json: bool) -> None:
    """Show the balance of every purse."""
    with _purse_client(reader, trace, trace_format) as client:
        identity = client.select().identity
        balances = client.balances()
    emit({"card": identity, "balances": {p.label: v for p, v in balances.items()}}, as_json,
         "\n".join([f"card {identity}"] + [f"{p.label:12} {v}" for p, v in balances.items()]))


@points.command("load")
@reader_option
@trace_option
@click.option("--purse", type=_PURSE, required=True, help="which purse to load")
@click.option("--amount", type=_AMOUNT, required=True, help="points to load")
@_keys_option
@_terminal_option
@json_option
@cli_errors
def load(reader: str | None, trace: bool, trace_format: str, purse: str, amount: int,
         keys_path: str, terminal_id: bytes, as_json: bool) -> None:
    """[!] Load points onto a purse, as the points issuer (checks MAC1 and the TAC); --keys
    may name the token holding purse_load and purse_tac (pkcs11:token=…)."""
    with ExitStack() as stack:
        issuer = _load_host(keys_path, stack)
        with _purse_client(reader, trace, trace_format, save=True) as client:
            record = client.load(Purse.named(purse), amount, issuer,  # type: ignore[arg-type]
                                 terminal_id=terminal_id)
    emit(record.as_dict(), as_json, _record_line(record))


def _load_host(keys_path: str, stack: ExitStack) -> LoadHost | ProviderLoadHost:
    """The load host over a key file, or over a token (its session closed with ``stack``)."""
    if is_pkcs11_uri(keys_path):
        from .hsm_cmds import open_token_provider

        return ProviderLoadHost(stack.enter_context(open_token_provider(keys_path)))
    return LoadHost(load_issuer_keys(keys_path))


@points.command("spend")
@reader_option
@trace_option
@click.option("--purse", type=_PURSE, required=True, help="which purse to spend from")
@click.option("--amount", type=_AMOUNT, required=True, help="points to spend")
@_keys_option
@_terminal_option
@click.option("--terminal-seq", type=click.IntRange(0, 0xFFFFFFFF), default=None,
              help="terminal transaction number (default: from the clock)")
@click.option("--ask-pin", is_flag=True, help="prompt for the holder's PIN first")
@json_option
@cli_errors
def spend(reader: str | None, trace: bool, trace_format: str, purse: str, amount: int,
          keys_path: str, terminal_id: bytes, terminal_seq: int | None, ask_pin: bool,
          as_json: bool) -> None:
    """[!] Spend points from a purse, as a merchant terminal (checks the card's MAC2); --keys
    may name the token holding purse_purchase (pkcs11:token=…)."""
    seq = terminal_seq if terminal_seq is not None else int(time.time()) & 0xFFFFFFFF
    with ExitStack() as stack:
        sam = _purchase_sam(keys_path, terminal_id, seq, stack)
        pin = click.prompt("PIN", hide_input=True, err=True) if ask_pin else None
        with _purse_client(reader, trace, trace_format, save=True) as client:
            client.select()
            if pin is not None:
                client.verify_pin(pin)
            record = client.purchase(Purse.named(purse), amount, sam)
    emit(record.as_dict(), as_json, _record_line(record))


def _purchase_sam(keys_path: str, terminal_id: bytes, seq: int, stack: ExitStack
                  ) -> PurchaseSecurityModule:
    """The purchase SAM over a key file, or over a token (its session key and session
    closed with ``stack``)."""
    if is_pkcs11_uri(keys_path):
        from host.hsm.purchase_sam import ProviderPurchaseSAM

        from .hsm_cmds import open_token_provider

        provider = stack.enter_context(open_token_provider(keys_path))
        sam = ProviderPurchaseSAM(provider, terminal_id, next_terminal_seq=seq)
        stack.callback(sam.close)
        return sam
    return SoftwarePurchaseSAM(load_issuer_keys(keys_path), terminal_id, next_terminal_seq=seq)


@points.command("log")
@reader_option
@trace_option
@click.option("--purse", type=_PURSE, default=None, help="one purse (default: all)")
@json_option
@cli_errors
def log(reader: str | None, trace: bool, trace_format: str, purse: str | None,
        as_json: bool) -> None:
    """List the latest movements of each purse, newest first, with their TACs."""
    with _purse_client(reader, trace, trace_format) as client:
        purses = [Purse.named(purse)] if purse else sorted(client.select().purses)
        records = [r for p in purses for r in client.read_log(p)]
    emit([r.as_dict() for r in records], as_json,
         "\n".join(_record_line(r) for r in records) or "no movements")
