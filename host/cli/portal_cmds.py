"""``dualcard portal …``: the alliance portal's accounts, and the portal alone for a lab.

``account add LOGIN --member ID --role ROLE`` opens a portal account for a back-office
member (the password asked twice, hidden, or one line on stdin with ``--password-stdin``);
``account list`` lists them; ``reset-code LOGIN`` issues a one-time code (valid a day)
the holder types on the portal's reset form. ``serve`` runs the portal alone (no terminal
door) on loopback, over TLS (``--tls-cert``, ``--tls-key``) or in clear with ``--plain``
only (a lab); ``dualcard host serve --http-port`` serves it beside the HTTP API under
``/portal``.

Exit codes: 0 ok · 1 refused or misconfigured · 2 bad arguments.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from host.backoffice.database import Database, as_url, default_url
from host.portal.errors import PortalError, PortalSetupError
from host.service.kek import CLEAR, read_kek
from host.service.wrap_keys import open_vault

from .card_io import emit
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .kek_options import kek_option
from .options import json_option

__all__ = ["portal"]

register_error(PortalError, ExitCode.FAILURE)

_ROLES = click.Choice(["consumer", "merchant", "insurer", "operator"])
_PEM_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _db_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", "db_url", default=None, metavar="URL",
                        help="back office database URL or SQLite file "
                             "(default: $DUALCARD_DB or ./dualcard.sqlite3)")(fn)


def _database(db_url: str | None) -> Database:
    db = Database(as_url(db_url) if db_url else default_url())
    if not db.has_schema():
        db.dispose()
        raise PortalSetupError("the database holds no back office yet: run `dualcard ledger init`")
    return db


def _accounts(db: Database) -> Any:
    from host.backoffice.clock import SystemClock
    from host.portal.auth import Accounts
    from host.portal.schema import create_portal_schema

    create_portal_schema(db)
    return Accounts(db, clock=SystemClock().now)


@click.group("portal")
def portal() -> None:
    """The alliance portal: accounts of members who log in, and the portal itself."""


@portal.group("account")
def account() -> None:
    """Portal accounts: open one, list them."""


@account.command("add")
@click.argument("login")
@click.option("--member", "member_id", required=True, help="the back-office member it speaks for")
@click.option("--role", type=_ROLES, required=True, help="what the member is to the alliance")
@click.option("--password-stdin", is_flag=True, help="read the password from one line of stdin")
@_db_option
@cli_errors
def add(login: str, member_id: str, role: str, password_stdin: bool, db_url: str | None) -> None:
    """[!] Open portal account LOGIN for MEMBER in ROLE."""
    from host.portal.auth import PortalRole

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    db = _database(db_url)
    try:
        made = _accounts(db).add(login, member_id, PortalRole(role), password)
    finally:
        db.dispose()
    click.echo(f"portal account {made.login}: {made.role.value} of member {made.member_id}")


@account.command("list")
@_db_option
@json_option
@cli_errors
def list_accounts(db_url: str | None, as_json: bool) -> None:
    """The portal's accounts: login, role, member."""
    db = _database(db_url)
    try:
        rows = _accounts(db).list()
    finally:
        db.dispose()
    human = "\n".join(f"{a.login:<24} {a.role.value:<9} {a.member_id}" for a in rows) \
        or "no portal account yet"
    emit([{"login": a.login, "role": a.role.value, "member": a.member_id} for a in rows],
         as_json, human)


@portal.command("reset-code")
@click.argument("login")
@_db_option
@cli_errors
def reset_code(login: str, db_url: str | None) -> None:
    """[!] Issue LOGIN a one-time password reset code (valid a day; replaces an earlier one)."""
    db = _database(db_url)
    try:
        code = _accounts(db).issue_reset_code(login)
    finally:
        db.dispose()
    click.echo(f"reset code for {login}: {code} (valid 24 h, once)")


@portal.command("serve")
@_db_option
@click.option("--host", "bind", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="TCP port (0: a free one, printed)")
@click.option("--tls-cert", type=_PEM_FILE, default=None, help="the host's certificate (PEM)")
@click.option("--tls-key", type=_PEM_FILE, default=None, help="its private key (PEM)")
@click.option("--plain", is_flag=True, help="serve in clear, without TLS (a lab only)")
@kek_option
@cli_errors
def serve(db_url: str | None, bind: str, port: int, tls_cert: Path | None,
          tls_key: Path | None, plain: bool, kek_file: Path | None) -> None:
    """Serve the portal alone under /portal until SIGTERM or SIGINT, over TLS (or in clear
    with --plain, for a lab). The KEK (--kek-file, $DUALCARD_KEK) is needed only to enrol
    terminals into a database whose keys are wrapped."""
    from host.portal.standalone import serve_portal

    with_tls = tls_cert is not None and tls_key is not None
    if plain == with_tls or (plain and (tls_cert or tls_key)):
        raise click.UsageError("the portal serves TLS: give --tls-cert and --tls-key "
                               "(or --plain alone, without TLS, for a lab)")
    db = _database(db_url)
    try:
        kek = read_kek(kek_file)
        vault = CLEAR if kek is None else open_vault(db, kek)
        asyncio.run(serve_portal(db, bind, port, tls_cert, tls_key, vault=vault))
    finally:
        db.dispose()
