"""`dualcard pos …`: the merchant terminal from the command line (over :mod:`host.pos`).

Every command reads the terminal configuration (``--config`` or ``$DUALCARD_POS_CONFIG``,
see docs/pos.md): the merchant, the terminal id, the journal, the back office and the
key files. Commands marked [!] change the card, the journal or the ledger; with a
``sim:IMAGE`` reader the image is written back afterwards, whatever the outcome.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from apdu_specs.commands.purse_data import Purse

from ..backoffice.errors import BackOfficeError
from ..backoffice.inprocess_link import open_backoffice
from ..connect import open_card
from ..files import DocumentError, read_text
from ..pos import (
    ARPCRejectedError,
    PaymentMethod,
    PointsProofError,
    POSError,
    SaleResult,
    Terminal,
    TransactionInterruptedError,
    format_cny,
    parse_slip,
)
from ..pos.config import TerminalConfig, load_config
from ..pos.context import EmptySlot
from ..pos.network_link import NetworkLink
from ..pos.slip import SlipFormatError, render_slip, slip_from_summary
from ..service.mac import read_key_file
from .card_io import emit
from .dial_options import host_address, terminal_tls, terminal_tls_options
from .errors import CLIError, cli_errors, register_error
from .exit_codes import ExitCode
from .options import json_option, reader_option, trace_option
from .pay_cmds import AMOUNT

__all__ = ["pos"]

register_error(ARPCRejectedError, ExitCode.AUTHENTICATION)
register_error(PointsProofError, ExitCode.AUTHENTICATION)
register_error(TransactionInterruptedError, ExitCode.NO_CARD)
register_error(POSError, ExitCode.FAILURE)
register_error(BackOfficeError, ExitCode.FAILURE)

_PURSE = click.Choice([p.label for p in Purse], case_sensitive=False)


def _config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--config", "config_path", envvar="DUALCARD_POS_CONFIG", required=True,
                        type=click.Path(dir_okay=False), metavar="FILE",
                        help="terminal configuration (JSON)  [env DUALCARD_POS_CONFIG]")(fn)


@contextmanager
def _terminal(config: TerminalConfig, reader: str | None, trace: bool,
              trace_format: str) -> Iterator[Terminal]:
    link = open_backoffice(config)
    journal = config.open_journal()
    try:
        with open_card(reader, trace=sys.stderr if trace else None,
                       trace_format=trace_format) as card:
            try:
                yield config.terminal(card.chip(1), card.chip(2), link, journal)
            finally:
                if card.save is not None:
                    card.save()
    finally:
        journal.close()
        link.office.close()


def _sale_line(sale: SaleResult) -> str:
    holder = sale.holder
    points = ", ".join(f"{m.points:+d} {m.purse.label}" for m in sale.points)
    line = (f"{sale.status.value.upper()} {sale.txn_id} {format_cny(sale.amount)} "
            f"{holder.application if holder else ''} {holder.masked_pan if holder else ''} "
            f"— {sale.message}")
    return f"{line}; points {points}" if points else line


@click.group("pos")
def pos() -> None:
    """The merchant terminal: sales, points, slips, journal, batches."""


@pos.command("setup")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=".", show_default=True, help="where to write the files")
@click.option("--force", is_flag=True, help="replace files that exist")
@cli_errors
def setup(directory: Path, force: bool) -> None:
    """[!] Write a sample terminal to try the commands with: its configuration, TEST key
    files, a ledger that knows the merchant and the card, and the sample card's image."""
    from ..testing.sample_terminal import MERCHANT, sample_terminal_files, write_sample_terminal

    there = [p for p in sample_terminal_files(directory).paths() if p.exists()]
    if there and not force:
        raise CLIError(f"{there[0]} exists (use --force to replace the sample terminal)",
                       ExitCode.USAGE)
    directory.mkdir(parents=True, exist_ok=True)
    files = write_sample_terminal(directory)
    click.echo("sample terminal written (TEST keys: for trying the commands, never for cards)")
    merchant = f"merchant {MERCHANT.merchant_id}, terminal {MERCHANT.terminal_hex}"
    for path, what in ((files.config, f"the configuration: {merchant}"),
                       (files.card, "the sample card's image (PIN 1234, purse PIN 123456)"),
                       (files.payment_keys, "chip 1 issuer keys (payment_keys)"),
                       (files.points_keys, "points issuer keys (points_keys)"),
                       (files.card_keys, "the card's keys, for the back office (card_keys)"),
                       (files.ledger, "the alliance's ledger (backoffice)")):
        click.echo(f"  {path!s:<24} {what}")


@pos.command("purchase")
@_config_option
@reader_option
@trace_option
@click.option("--amount", type=AMOUNT, required=True, help="amount in CNY, e.g. 12.34")
@click.option("--method", type=click.Choice([m.value for m in PaymentMethod]), default=None,
              help="debit or credit (default: the card's first application)")
@click.option("--pin/--no-pin", "ask_pin", default=True, show_default=True,
              help="prompt for the holder's PIN")
@click.option("--no-points", is_flag=True, help="do not earn points on chip 2")
@json_option
@cli_errors
def purchase(config_path: str, reader: str | None, trace: bool, trace_format: str, amount: int,
             method: str | None, ask_pin: bool, no_points: bool, as_json: bool) -> None:
    """[!] A sale: chip 1 pays online, chip 2 earns points; journaled, slip ready."""
    config = load_config(config_path)
    with _terminal(config, reader, trace, trace_format) as terminal:
        # the configuration, its key files, the back office and the card are all there:
        # only now is the holder asked for the PIN
        pin = click.prompt("PIN", hide_input=True, err=True) if ask_pin else None
        sale = terminal.purchase(amount, pin=pin, earn=not no_points,
                                 method=PaymentMethod(method) if method else None)
    emit(sale.to_dict(), as_json, _sale_line(sale))


@pos.command("spend")
@_config_option
@reader_option
@trace_option
@click.option("--points", type=click.IntRange(1, 0xFFFFFFFF), required=True)
@click.option("--purse", type=_PURSE, default="consumption", show_default=True)
@json_option
@cli_errors
def spend(config_path: str, reader: str | None, trace: bool, trace_format: str, points: int,
          purse: str, as_json: bool) -> None:
    """[!] Pay with points at this merchant (the terminal's security module)."""
    config = load_config(config_path)
    with _terminal(config, reader, trace, trace_format) as terminal:
        result = terminal.spend_points(points, purse=Purse.named(purse))
    emit(result.to_dict(), as_json, f"{result.status.value.upper()} {result.txn_id} "
         f"{points} {purse} points — {result.message}")


@pos.command("reconcile")
@_config_option
@reader_option
@trace_option
@json_option
@cli_errors
def reconcile(config_path: str, reader: str | None, trace: bool, trace_format: str,
              as_json: bool) -> None:
    """[!] Finish transactions a pulled card left open (the card in the reader answers)."""
    config = load_config(config_path)
    with _terminal(config, reader, trace, trace_format) as terminal:
        outcomes = terminal.reconcile()
    rows = [{"txn_id": o.txn_id, "action": o.action, "detail": o.detail} for o in outcomes]
    emit(rows, as_json, "\n".join(f"{r['txn_id']}  {r['action']:<12} {r['detail']}"
                                  for r in rows) or "nothing to reconcile")


@pos.command("journal")
@_config_option
@json_option
@cli_errors
def journal(config_path: str, as_json: bool) -> None:
    """List the terminal's journaled transactions."""
    j = load_config(config_path).open_journal()
    try:
        entries = j.entries()
    finally:
        j.close()
    rows = [{"txn_id": e.txn_id, "kind": e.kind.value, "status": e.status.value,
             "stage": e.stage, "amount": e.amount, "at": e.created_at.isoformat(),
             "error": e.error} for e in entries]
    emit(rows, as_json, "\n".join(
        f"{r['txn_id']}  {r['at']}  {r['kind']:<10} {r['status']:<10} {r['amount']:>10}  "
        f"{r['stage']}" for r in rows) or "the journal is empty")


@pos.command("slip")
@click.argument("txn_id", required=False)
@click.option("--config", "config_path", envvar="DUALCARD_POS_CONFIG",
              type=click.Path(dir_okay=False), metavar="FILE", help="terminal configuration")
@click.option("--parse", "parse_path", type=click.Path(dir_okay=False, exists=True),
              help="read a printed slip back into its fields (F9)")
@json_option
@cli_errors
def slip(txn_id: str | None, config_path: str | None, parse_path: str | None,
         as_json: bool) -> None:
    """Print a transaction's slip, or (--parse FILE) extract the fields of a printed one."""
    if parse_path is not None:
        try:
            fields = parse_slip(read_text(parse_path))
        except SlipFormatError as exc:
            raise DocumentError(parse_path, str(exc)) from None
        data = {k: v for k, v in vars(fields).items() if k != "extra"}
        data["when"] = fields.when.isoformat()
        data["points"] = [vars(p) for p in fields.points]
        emit(data, as_json, "\n".join(f"{k:<14} {v}" for k, v in data.items()))
        return
    if txn_id is None or config_path is None:
        raise click.UsageError("give a transaction id and --config, or --parse FILE")
    config = load_config(config_path)
    j = config.open_journal()
    try:
        fields = slip_from_summary(j.entry(txn_id).summary, config.merchant)
    finally:
        j.close()
    click.echo(render_slip(fields), nl=False)


@pos.group("batch")
def batch() -> None:
    """The terminal's batches for the back office."""


@batch.command("upload")
@_config_option
@json_option
@cli_errors
def upload(config_path: str, as_json: bool) -> None:
    """[!] Close a batch of new records and upload every batch not yet accepted (safe to
    repeat: the back office clears a batch id once)."""
    config = load_config(config_path)
    link = open_backoffice(config)
    j = config.open_journal()
    try:
        receipts = config.terminal(EmptySlot(), EmptySlot(), link, j).upload()
    finally:
        j.close()
        link.office.close()
    rows = [{"batch_id": r.batch_id, "status": r.status, **dict(r.summary)} for r in receipts]
    emit(rows, as_json, "\n".join(f"{r['batch_id']}  {r['status']}" for r in rows)
         or "nothing to upload")


@batch.command("list")
@_config_option
@json_option
@cli_errors
def batch_list(config_path: str, as_json: bool) -> None:
    """The terminal's batches and what the back office answered."""
    j = load_config(config_path).open_journal()
    try:
        rows = [{"batch_id": b.batch_id, "status": b.status, "closed_at": b.closed_at.isoformat(),
                 "uploaded_at": b.uploaded_at.isoformat() if b.uploaded_at else None}
                for b in j.batches()]
    finally:
        j.close()
    emit(rows, as_json, "\n".join(f"{r['batch_id']}  {r['status']:<8} closed {r['closed_at']}"
                                  for r in rows) or "no batches")


@pos.group("saf")
def saf() -> None:
    """The store-and-forward queue: reversals and advices the service host has not had yet."""


@saf.command("list")
@_config_option
@json_option
@cli_errors
def saf_list(config_path: str, as_json: bool) -> None:
    """What the queue holds, in the order it will be sent."""
    queue = load_config(config_path).open_saf()
    try:
        rows = [entry.to_dict() for entry in queue.entries()]
    finally:
        queue.close()
    emit(rows, as_json, "\n".join(
        f"{r['seq']:>4}  {r['mti']} stan {r['stan']:06d}  {r['kind']:<8} {r['status']:<8} "
        f"queued {r['queued_at']}  tries {r['attempts']}" for r in rows) or "the queue is empty")


@saf.command("flush")
@_config_option
@click.option("--service", "address", required=True, metavar="HOST:PORT",
              help="the service host's ISO 8583 door")
@click.option("--key-file", type=click.Path(dir_okay=False), required=True,
              help="the terminal's MAC key file (dualcard host terminal add --key-out)")
@terminal_tls_options
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=5.0, show_default=True,
              help="seconds to wait for each answer")
@json_option
@cli_errors
def saf_flush(config_path: str, address: str, key_file: str, tls_ca: Path | None,
              tls_cert: Path | None, tls_key: Path | None, plain: bool, timeout: float,
              as_json: bool) -> None:
    """[!] Send the queue to the service, in order; each message keeps its STAN and is acted
    on once (safe to repeat). Exit 1 when messages are still waiting."""
    config = load_config(config_path)
    host, port = host_address(address, "--service")
    tls = terminal_tls(tls_ca, tls_cert, tls_key, plain)
    terminal_id, key = read_key_file(key_file)
    if terminal_id != config.merchant.terminal_hex:
        raise CLIError(f"key file {key_file} is terminal {terminal_id}'s, not "
                       f"{config.merchant.terminal_hex}'s", ExitCode.USAGE)
    queue, stans = config.open_saf(), config.open_stan_counter()
    try:
        with NetworkLink(host, port, merchant=config.merchant, key=key, timeout=timeout,
                         attempts=1, saf=queue, tls=tls, stan=stans) as link:
            forwarded = link.forward()
        waiting = len(queue.pending())
    finally:
        queue.close()
        stans.close()
    emit({"forwarded": forwarded, "waiting": waiting}, as_json,
         f"{forwarded} forwarded, {waiting} waiting")
    if waiting:
        raise CLIError(f"the service at {address} did not take every message: {waiting} "
                       "still queued")
