"""`dualcard pay …`: chip 1 payments from the command line (list, read, status, purchase).

Each command is a few lines over :mod:`host.payment`; the card is reached through
``host.connect.open_card`` (``--reader pcsc:NAME`` or ``sim:IMAGE``; a simulated
image is written back after the commands marked [!], which change the card).
"""

from __future__ import annotations

import datetime as dt
import sys
from contextlib import ExitStack
from typing import Any

import click

from apdu_specs.hexutil import to_hex

from ..connect import open_card
from ..hsm.uri import is_pkcs11_uri
from ..payment.client import PaymentClient
from ..payment.errors import ARQCError, CardDataError, PaymentError, PaymentProfileError
from ..payment.issuer import Issuer
from ..payment.keys import load_issuer_keys
from ..payment.money import format_amount, parse_amount
from ..payment.purchase import PurchaseOutcome, run_purchase
from ..payment.terminal import TerminalProfile, TransactionData, build_dol
from .card_io import emit
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .options import HEX, json_option, reader_option, trace_option

__all__ = ["pay"]

register_error(ARQCError, ExitCode.AUTHENTICATION)
register_error(PaymentProfileError, ExitCode.USAGE)
register_error(CardDataError, ExitCode.CARD_ERROR)
register_error(PaymentError, ExitCode.FAILURE)


class AmountParam(click.ParamType):
    """An amount in major units (``12.34``), converted to minor units."""

    name = "amount"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_amount(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


AMOUNT = AmountParam()


def _aid_option(fn: Any) -> Any:
    return click.option("--aid", type=HEX, default=None,
                        help="application AID (default: the card's highest priority)")(fn)


def _connect(reader: str | None, trace: bool, trace_format: str, save: bool) -> Any:
    return open_card(reader, chips=(1,), trace=sys.stderr if trace else None,
                     trace_format=trace_format, save_on_exit=save)


def _choose(client: PaymentClient, aid: bytes | None) -> bytes:
    if aid is not None:
        return aid
    apps = client.list_applications()
    if not apps:
        raise CardDataError("the card lists no payment application")
    return apps[0].aid


@click.group("pay")
def pay() -> None:
    """Chip 1 payments: applications, card data, counters, a chip purchase."""


@pay.command("apps")
@reader_option
@trace_option
@json_option
@cli_errors
def apps(reader: str | None, trace: bool, trace_format: str, as_json: bool) -> None:
    """List the payment applications (PSE, else PPSE)."""
    with _connect(reader, trace, trace_format, save=False) as link:
        entries = PaymentClient(link.chip(1)).list_applications()
    rows = [{"aid": to_hex(e.aid), "label": e.label, "priority": e.priority} for e in entries]
    emit(rows, as_json, "\n".join(f"{r['priority']:>2}  {r['aid']:<16}  {r['label']}" for r in rows)
         or "no payment application")


@pay.command("read")
@reader_option
@_aid_option
@trace_option
@json_option
@cli_errors
def read(reader: str | None, aid: bytes | None, trace: bool, trace_format: str,
         as_json: bool) -> None:
    """[!] Select an application, start a transaction (ATC +1) and read its records."""
    with _connect(reader, trace, trace_format, save=True) as link:
        client = PaymentClient(link.chip(1))
        fci = client.select_application(_choose(client, aid))
        values = TransactionData(0, bytes(4), dt.date.today()).values(TerminalProfile())
        options = client.get_processing_options(build_dol(fci.pdol, values))
        card = client.read_application_data(options.afl)
    out = {"aid": to_hex(fci.aid), "label": fci.label, "blocked": fci.blocked,
           "pan": card.masked_pan, "psn": card.psn, "expiry": card.expiry,
           "cardholder": card.cardholder_name, "aip": to_hex(options.aip),
           "currency": card.currency, "offline_pin": card.supports_offline_plaintext_pin()}
    emit(out, as_json, "\n".join(f"{k:<12} {v}" for k, v in out.items()))


@pay.command("status")
@reader_option
@_aid_option
@trace_option
@json_option
@cli_errors
def status(reader: str | None, aid: bytes | None, trace: bool, trace_format: str,
           as_json: bool) -> None:
    """Counters and limits (GET DATA): ATC, last online ATC, PIN tries, limits."""
    with _connect(reader, trace, trace_format, save=False) as link:
        client = PaymentClient(link.chip(1))
        fci = client.select_application(_choose(client, aid))
        counters = client.read_counters()
    out = {"aid": to_hex(fci.aid), "blocked": fci.blocked, **vars(counters)}
    emit(out, as_json, "\n".join(f"{k:<16} {'-' if v is None else v}" for k, v in out.items()))


@pay.command("purchase")
@reader_option
@_aid_option
@click.option("--amount", type=AMOUNT, required=True, help="amount in major units, e.g. 12.34")
@click.option("--pin/--no-pin", "ask_pin", default=True, show_default=True,
              help="prompt for the offline PIN")
@click.option("--issuer-keys", type=click.Path(dir_okay=False), default=None,
              help="JSON issuer key file, or the token holding emv_ac (pkcs11:token=…): "
                   "authorise online with the built-in issuer (without it the terminal "
                   "cannot go online)")
@trace_option
@json_option
@cli_errors
def purchase(reader: str | None, aid: bytes | None, amount: int, ask_pin: bool,
             issuer_keys: str | None, trace: bool, trace_format: str, as_json: bool) -> None:
    """[!] Run a chip purchase on chip 1 and print the outcome (approved or declined)."""
    with ExitStack() as stack:
        issuer = _issuer(issuer_keys, stack)
        outcome = _purchase(reader, aid, amount, ask_pin, issuer, trace, trace_format)
    _emit_purchase(outcome, amount, as_json)


def _issuer(issuer_keys: str | None, stack: ExitStack) -> Issuer | None:
    """The built-in issuer over a key file, or over a token (closed with ``stack``)."""
    if not issuer_keys:
        return None
    if is_pkcs11_uri(issuer_keys):
        from host.hsm.issuer import ProviderIssuer

        from .hsm_cmds import open_token_provider

        return ProviderIssuer(stack.enter_context(open_token_provider(issuer_keys)))
    return Issuer(load_issuer_keys(issuer_keys).emv)


def _purchase(reader: str | None, aid: bytes | None, amount: int, ask_pin: bool,
              issuer: Issuer | None, trace: bool, trace_format: str) -> PurchaseOutcome:
    pin = click.prompt("PIN", hide_input=True, err=True) if ask_pin else None
    with _connect(reader, trace, trace_format, save=True) as link:
        client = PaymentClient(link.chip(1))
        return run_purchase(client, amount, pin=pin, aid=aid,
                            authoriser=issuer.authorise if issuer else None)


def _emit_purchase(outcome: PurchaseOutcome, amount: int, as_json: bool) -> None:
    final = outcome.final
    iad = final.issuer_application_data
    out = {"approved": outcome.approved, "amount": format_amount(amount),
           "application": outcome.fci.label, "pan": outcome.card.masked_pan,
           "cryptogram": final.kind.name, "atc": final.atc, "ac": to_hex(final.cryptogram),
           "pin_verified": None if outcome.pin is None else outcome.pin.verified,
           "online": outcome.response is not None,
           "arc": outcome.response.arc.decode() if outcome.response else None,
           "cvr": to_hex(iad.cvr.encode()) if iad else None}
    human = (f"{'APPROVED' if outcome.approved else 'DECLINED'} {out['amount']} "
             f"{out['application']} {out['pan']} — {out['cryptogram']} ATC {final.atc:04X}")
    emit(out, as_json, human)
