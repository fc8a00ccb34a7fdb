"""``dualcard host …``: the alliance's service host, serving terminals over the network.

``serve`` runs the ISO 8583/TCP front door, and with ``--http-port`` the HTTP/JSON one
beside it (one process, one event loop, one pool of handler threads), both over TLS with
the host's certificate (``--tls-cert``, ``--tls-key``; ``--client-ca`` for mutual TLS),
or in clear with ``--plain`` only (a lab; it logs a warning), over the back office
database (``--db``, default ``$DUALCARD_DB`` or ``./dualcard.sqlite3``) until SIGTERM or
SIGINT, which let the requests in flight finish on both doors. ``terminal add`` gives a
terminal its MAC key (written once to a key file for the terminal; the service shows only
its KCV), ``terminal list`` lists the keyed ones with their status, ``terminal block`` and
``terminal unblock`` stop and resume serving one (saying why), ``terminal pin-key`` gives a terminal
its zone PIN key for online PINs (written once to a key file for its PIN pad), and
``pin-unblock`` lets a card whose online PIN was blocked be tried again. The keys and
the webhook secrets are stored wrapped under a key-encryption key given by ``--kek-file``
or ``$DUALCARD_KEK`` (:mod:`host.service.kek`); ``keys wrap`` wraps those of a database
that holds them in clear, once. ``ca …`` is the
alliance's certificate authority (:mod:`host.cli.ca_cmds`). ``echo`` is a terminal's 0800
echo test, through its network link: over TLS, the host's certificate checked against the
alliance CA.

The issuers' keys are key files, or the PKCS#11 token that holds their master keys
(``pkcs11:token=<label>`` in place of a file, the user PIN from ``$DUALCARD_HSM_PIN`` or a
prompt; docs/hsm.md): the token is opened and every master key checked before the doors
open, and a token that cannot be used is one line and its own exit code (10-13).

Logs go to stderr as JSON lines (one per request: MTI, terminal, STAN, response code,
duration; over HTTP: method, route, terminal, status, error code, duration), never with a
PAN, key, MAC, cryptogram or body.

Exit codes (:mod:`host.cli.exit_codes`): 0 ok (also after SIGTERM) · 1 refused or
misconfigured · 2 bad arguments.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import getpass
import json
import logging
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from host.backoffice.database import Database, as_url, default_url
from host.backoffice.terminals import MAX_REASON, TerminalStatus, set_terminal_status
from host.hsm.uri import is_pkcs11_uri
from host.payment.issuer import AuthorisationPolicy
from host.pos.merchant import MerchantIdentity
from host.pos.network_link import NetworkLink, StanCounter
from host.records.errors import BackOfficeError
from host.records.ids import check_terminal_id
from host.service.auth_centre import reset_pin_tries
from host.service.core import LOGGER, ServiceCore
from host.service.cpu_latency import MAX_LATENCY_US, CPULatencyRequest
from host.service.errors import ServiceConfigurationError, ServiceError
from host.service.kek import KEK_ENV, kek_check_value, read_kek
from host.service.mac import new_mac_key, read_key_file, write_key_file
from host.service.pin_keys import TerminalPINKey, new_zpk, register_pin_key, write_pin_key_file
from host.service.replay import ReplayGuard
from host.service.runner import ServiceHost
from host.service.schema import create_service_schema
from host.service.services import AllianceServices, open_services
from host.service.tcp_server import GROUP_WAIT
from host.service.terminals import register_terminal, registered_terminals
from host.service.tls import ServerTLS
from host.service.wrap_keys import wrap_stored_keys

from .ca_cmds import ca
from .card_io import emit
from .dial_options import host_address, terminal_tls, terminal_tls_options
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .hsm_cmds import open_token_provider
from .kek_options import kek_option, vault_of
from .notice_options import background_notices, serve_notices_options
from .options import json_option
from .pay_cmds import AMOUNT

__all__ = ["host"]

register_error(ServiceError, ExitCode.FAILURE)
register_error(BackOfficeError, ExitCode.FAILURE)
register_error(SQLAlchemyError, ExitCode.FAILURE)

_KEY_FILE = click.Path(exists=True, dir_okay=False)


class _KeySource(click.ParamType):
    """A key file that exists, or a ``pkcs11:`` URI naming the token that holds the keys."""

    name = "FILE|pkcs11:URI"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        if is_pkcs11_uri(value):
            return str(value)
        return str(_KEY_FILE.convert(value, param, ctx))


_KEYS = _KeySource()
_PEM_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db_url", default=None, metavar="URL",
                        help="back office database URL or SQLite file "
                             "(default: $DUALCARD_DB or ./dualcard.sqlite3)")(fn)


def _url(value: str | None) -> str:
    return as_url(value) if value else default_url()


@click.group("host")
def host() -> None:
    """The service host: terminals online over ISO 8583/TCP and HTTP/JSON."""


host.add_command(ca)


@host.command("serve")
@_db_option
@click.option("--host", "bind", default="127.0.0.1", show_default=True,
              help="address to listen on (loopback unless told otherwise)")
@click.option("--iso-port", type=click.IntRange(0, 65535), default=8583, show_default=True,
              help="TCP port of the ISO 8583 front door (0: a free port, printed)")
@click.option("--http-port", type=click.IntRange(0, 65535), default=None,
              help="TCP port of the HTTP/JSON front door (0: a free port, printed; "
                   "default: no HTTP door)")
@click.option("--bank-id", required=True, help="the issuing bank's member id")
@click.option("--payment-keys", type=_KEYS, required=True,
              help="JSON issuer key file of chip 1 (IMK-AC/SMI/SMC, CVK, PVK), or the token "
                   "holding emv_ac, emv_smi, emv_smc and pvk (pkcs11:token=…)")
@click.option("--points-keys", type=_KEYS, required=True,
              help="points issuer key file, or the token holding purse_load and purse_tac")
@click.option("--card-keys", type=_KEYS, required=True,
              help="the issuer's per-card key file (the back office's card verifier), or the "
                   "token holding purse_tac and emv_ac")
@click.option("--card-register", type=_PEM_FILE, default=None,
              help="with a token: card id -> PAN and PSN, for the cryptograms of uploaded "
                   "batches (docs/hsm.md)")
@click.option("--approve-up-to", type=AMOUNT, default=None, help="issuer policy, e.g. 10000.00")
@click.option("--refer-up-to", type=AMOUNT, default=None, help="issuer policy: refer up to")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="handler threads (default: on SQLite none, the ISO door's requests "
                   "handled on the event loop's thread; on PostgreSQL 1, raise it for a "
                   "database far away)")
@click.option("--group-wait-ms", type=click.FloatRange(0, 50), default=GROUP_WAIT * 1000,
              show_default=True,
              help="busy, how long a free handler waits for a fuller group of "
                   "authorisations to commit together (0: never waits)")
@click.option("--cpu-latency-us", type=click.IntRange(0, MAX_LATENCY_US), default=None,
              help="while serving, hold the machine's CPUs to waking within this many "
                   "microseconds (a PM QoS request; 0: idle CPUs poll, never halt; needs "
                   "root; docs/host.md)")
@click.option("--replay-window", type=click.IntRange(1, 3600), default=300, show_default=True,
              help="seconds a request's DE 7 may differ from the service's clock")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@click.option("--tls-cert", type=_PEM_FILE, default=None,
              help="the host's certificate (PEM), served on both doors")
@click.option("--tls-key", type=_PEM_FILE, default=None, help="its private key (PEM)")
@click.option("--client-ca", type=_PEM_FILE, default=None,
              help="mutual TLS: terminals must show a certificate of this CA (PEM)")
@click.option("--plain", is_flag=True,
              help="serve in clear, without TLS (a lab only; logs a warning)")
@kek_option
@serve_notices_options
@cli_errors
def serve(db_url: str | None, bind: str, iso_port: int, http_port: int | None, bank_id: str,
          payment_keys: str, points_keys: str, card_keys: str, card_register: Path | None,
          approve_up_to: int | None,
          refer_up_to: int | None, workers: int | None, group_wait_ms: float,
          cpu_latency_us: int | None, replay_window: int,
          log_level: str, tls_cert: Path | None, tls_key: Path | None, client_ca: Path | None,
          plain: bool, kek_file: Path | None, **notices: Any) -> None:
    """[!] Serve terminals over ISO 8583/TCP (and HTTP), over TLS, until SIGTERM or SIGINT."""
    tls = _server_tls(tls_cert, tls_key, client_ca, plain=plain)
    if is_pkcs11_uri(card_keys) and card_register is None:
        raise click.UsageError("with --card-keys pkcs11:… give --card-register: the back "
                               "office checks the cryptogram of the sale a load claims with "
                               "the card's PAN and PSN")
    _log_json_lines(log_level)
    with contextlib.ExitStack() as held:
        if cpu_latency_us is not None:  # before anything opens: one line if not allowed
            held.enter_context(CPULatencyRequest(cpu_latency_us))
            LOGGER.info("CPU wake-up latency held at %d us", cpu_latency_us,
                        extra={"fields": {"event": "cpu_latency", "us": cpu_latency_us}})
        if tls is None:
            LOGGER.warning("serving without TLS (--plain): for a lab only",
                           extra={"fields": {"event": "plain"}})
        services = open_services(_url(db_url), payment_keys=payment_keys, points_keys=points_keys,
                                 card_keys=card_keys, card_register=card_register,
                                 bank_id=bank_id,
                                 policy=AuthorisationPolicy(approve_up_to=approve_up_to,
                                                            refer_up_to=refer_up_to),
                                 kek=read_kek(kek_file), open_token=open_token_provider)
        if services.vault.kek is None:
            LOGGER.warning("the terminals' keys are stored in clear: wrap them under a "
                           "key-encryption key (dualcard host keys wrap)",
                           extra={"fields": {"event": "keys_in_clear"}})
        try:
            core = _core(services, replay_window)
            threads = workers or 1
            # the dispatcher is stopped after the doors close
            with background_notices(services.db, vault=services.vault, **notices):
                asyncio.run(_serve(ServiceHost(core, host=bind, iso_port=iso_port,
                                               http_port=http_port, workers=threads, tls=tls,
                                               group_wait=group_wait_ms / 1000,
                                               on_loop=None if workers is None else False)))
        finally:
            services.close()


def _server_tls(cert: Path | None, key: Path | None, client_ca: Path | None, *,
                plain: bool) -> ServerTLS | None:
    """The doors' TLS as the options ask (None: ``--plain``); a usage error otherwise."""
    if plain:
        if cert or key or client_ca:
            raise click.UsageError("--plain serves without TLS: give it without "
                                   "--tls-cert, --tls-key or --client-ca")
        return None
    if cert is None or key is None:
        raise click.UsageError("the service serves TLS: give --tls-cert and --tls-key "
                               "(or --plain, without TLS, for a lab)")
    tls = ServerTLS(cert, key, client_ca)
    tls.context()  # the files load (else one line naming them), before anything opens
    return tls


def _core(services: AllianceServices, replay_window: int) -> ServiceCore:
    if not services.db.has_schema():
        raise ServiceConfigurationError(
            "the database holds no back office yet: run `dualcard ledger init`")
    create_service_schema(services.db)
    window = dt.timedelta(seconds=replay_window)
    return ServiceCore(services, replay=ReplayGuard(services.db, window=window))


async def _serve(server: ServiceHost) -> None:
    """Print one line per door (``dualcard host: ISO 8583 on ADDRESS:PORT``, then HTTP),
    serve until SIGTERM or SIGINT, stop gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        bound = await server.start()
        for door, name in (("iso", "ISO 8583"), ("http", "HTTP")):
            if door in bound:
                click.echo(f"dualcard host: {name} on {bound[door][0]}:{bound[door][1]}")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await server.stop()


class _JSONLines(logging.Formatter):
    """One JSON object per record: time, level, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
        entry = {"ts": when, "level": record.levelname.lower(), "msg": record.getMessage(),
                 **getattr(record, "fields", {})}
        if record.exc_info:  # an internal error: where it happened, for the operator
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _log_json_lines(level: str) -> None:
    """The service's records, and uvicorn's warnings, as JSON lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JSONLines())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level.upper())
    LOGGER.propagate = False
    server = logging.getLogger("uvicorn")
    server.handlers[:] = [handler]
    server.setLevel(max(logging.WARNING, LOGGER.level))
    server.propagate = False


@host.group("terminal")
def terminal() -> None:
    """Terminals' MAC keys: give one, list them; block and unblock a terminal."""


@terminal.command("add")
@click.argument("terminal_id")
@_db_option
@click.option("--key-out", type=click.Path(dir_okay=False), required=True,
              help="new file the key is written to (mode 600), to install in the terminal")
@click.option("--replace", is_flag=True, help="give a terminal that has a key a new one")
@kek_option
@cli_errors
def add(terminal_id: str, db_url: str | None, key_out: str, replace: bool,
        kek_file: Path | None) -> None:
    """[!] Give TERMINAL_ID (12 hex digits, registered to a merchant) a new MAC key."""
    terminal_id = check_terminal_id(terminal_id)
    db = Database(_url(db_url))
    try:
        vault = vault_of(db, kek_file)
        key = new_mac_key()
        write_key_file(key_out, terminal_id=terminal_id, key=key)
        try:
            keyed = register_terminal(db, terminal_id, at=dt.datetime.now(dt.UTC), key=key,
                                      replace=replace, vault=vault)
        except BaseException:
            Path(key_out).unlink()
            raise
    finally:
        db.dispose()
    click.echo(f"terminal {keyed.terminal_id} of {keyed.merchant_id}: MAC key KCV {keyed.kcv} "
               f"written to {key_out}")


@terminal.command("list")
@_db_option
@json_option
@cli_errors
def list_terminals(db_url: str | None, as_json: bool) -> None:
    """The terminals that have a MAC key: terminal id, merchant, KCV."""
    db = Database(_url(db_url))
    try:
        create_service_schema(db)
        rows = registered_terminals(db)
    finally:
        db.dispose()
    human = "\n".join(f"{t}  {m:<20} KCV {k}  {status}" for t, m, k, status in rows) \
        or "no terminal has a key yet"
    emit([{"terminal_id": t, "merchant_id": m, "kcv": k, "status": status}
          for t, m, k, status in rows], as_json, human)


def _status_command(name: str, status: TerminalStatus, summary: str) -> None:
    """``terminal block`` / ``terminal unblock``: one command each, the same options."""

    @terminal.command(name, help=summary)
    @click.argument("terminal_id")
    @_db_option
    @click.option("--reason", required=True, help=f"why (1-{MAX_REASON} characters), kept "
                  "with who and when")
    @click.option("--by", "by", default=None, help="who decides (default: the user's login)")
    @cli_errors
    def command(terminal_id: str, db_url: str | None, reason: str, by: str | None) -> None:
        db = Database(_url(db_url))
        try:
            db.upgrade_schema()
            with db.write() as conn:
                state = set_terminal_status(conn, terminal_id, status, by=by or getpass.getuser(),
                                            reason=reason, at=dt.datetime.now(dt.UTC))
        finally:
            db.dispose()
        click.echo(f"terminal {state.terminal_id} of {state.merchant_id}: {name}ed by "
                   f"{state.changed_by}")


_status_command("block", TerminalStatus.BLOCKED,
                "[!] Block TERMINAL_ID: the service refuses its every message (58; HTTP 403) "
                "within its terminal cache's age, 30 s by default.")
_status_command("unblock", TerminalStatus.ACTIVE, "[!] Unblock TERMINAL_ID: the service serves it again.")


@host.command("echo")
@click.argument("address", metavar="HOST:PORT")
@click.option("--key-file", type=_KEY_FILE, required=True,
              help="the terminal's MAC key file (from `host terminal add`)")
@click.option("--merchant", "merchant_id", required=True, help="the terminal's merchant id")
@terminal_tls_options
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=5.0, show_default=True,
              help="seconds to wait for the answer")
@cli_errors
def echo_cmd(address: str, key_file: str, merchant_id: str, tls_ca: Path | None,
             tls_cert: Path | None, tls_key: Path | None, plain: bool, timeout: float) -> None:
    """Send the host an 0800 echo test as the terminal: the address, TLS and key work."""
    host_name, port = host_address(address)
    tls = terminal_tls(tls_ca, tls_cert, tls_key, plain)
    terminal_id, key = read_key_file(key_file)
    merchant = MerchantIdentity(merchant_id, bytes.fromhex(terminal_id))
    stan = StanCounter(secrets.randbelow(999_999))  # two runs in one second: two STANs
    with NetworkLink(host_name, port, merchant=merchant, key=key, timeout=timeout,
                     attempts=1, tls=tls, stan=stan) as link:
        link.echo()
        over = link.tls_version or "plain TCP"
    click.echo(f"echo answered by {address} over {over}, MAC verified")


# the notice dispatcher's commands, which use this module's options (they register
# themselves on ``host``)
from . import notice_cmds  # noqa: E402, F401


@terminal.command("pin-key")
@click.argument("terminal_id")
@_db_option
@click.option("--key-out", type=click.Path(dir_okay=False), required=True,
              help="new file the ZPK is written to (mode 600), for the terminal's PIN pad")
@click.option("--replace", is_flag=True, help="give a terminal that has a ZPK a new one")
@kek_option
@cli_errors
def pin_key(terminal_id: str, db_url: str | None, key_out: str, replace: bool,
            kek_file: Path | None) -> None:
    """[!] Give TERMINAL_ID a new zone PIN key (ZPK) for its online PIN blocks."""
    key = TerminalPINKey(check_terminal_id(terminal_id), new_zpk())
    db = Database(_url(db_url))
    try:
        vault = vault_of(db, kek_file)
        write_pin_key_file(key_out, key)
        try:
            register_pin_key(db, key.terminal_id, at=dt.datetime.now(dt.UTC), key=key.key,
                             replace=replace, vault=vault)
        except BaseException:
            Path(key_out).unlink()
            raise
    finally:
        db.dispose()
    click.echo(f"terminal {key.terminal_id}: ZPK KCV {key.kcv} written to {key_out}")


@host.group("keys")
def keys() -> None:
    """The terminals' keys and webhook secrets at rest: wrapped under a key-encryption key."""


@keys.command("wrap")
@_db_option
@kek_option
@cli_errors
def wrap_keys(db_url: str | None, kek_file: Path | None) -> None:
    """[!] Wrap the database's clear terminal keys and webhook secrets under the KEK (once;
    from then on every command that reads or stores them needs it)."""
    kek = read_kek(kek_file)
    if kek is None:
        raise click.UsageError(f"give the key-encryption key: --kek-file or ${KEK_ENV}")
    db = Database(_url(db_url))
    try:
        wrapped = wrap_stored_keys(db, kek, at=dt.datetime.now(dt.UTC))
    finally:
        db.dispose()
    click.echo(f"{wrapped} keys and secrets wrapped under the KEK of KCV "
               f"{kek_check_value(kek)}" if wrapped else
               f"nothing in clear: the keys are wrapped under KCV {kek_check_value(kek)}")


@host.command("pin-unblock")
@click.argument("card_id")
@_db_option
@cli_errors
def pin_unblock(card_id: str, db_url: str | None) -> None:
    """[!] Let CARD_ID's online PIN be tried again (once the holder proved who they are)."""
    db = Database(_url(db_url))
    try:
        create_service_schema(db)
        cleared = reset_pin_tries(db, card_id)
    finally:
        db.dispose()
    click.echo(f"card {card_id}: " + ("wrong PINs forgotten, the online PIN can be tried again"
                                      if cleared else "no wrong PIN was counted"))
