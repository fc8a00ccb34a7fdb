"""``dualcard host ca …``: the alliance's own certificate authority (:mod:`host.service.ca`).

``init`` makes the CA (``ca.pem``, given to the host and every terminal; ``ca.key``, kept
offline), ``issue-server`` the host's certificate for its names and addresses,
``issue-terminal`` a terminal's certificate naming its terminal id. Private keys are
written to new files of mode 600; nothing is overwritten; no key is ever printed.

Exit codes: 0 ok · 1 refused (a file exists, no CA there) · 2 bad arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from host.service.ca import (
    CA_DAYS,
    SERVER_DAYS,
    TERMINAL_DAYS,
    Issued,
    init_ca,
    issue_server,
    issue_terminal,
)
from host.service.tls import TLSError

from .errors import cli_errors, register_error
from .exit_codes import ExitCode

__all__ = ["ca"]

register_error(TLSError, ExitCode.FAILURE)

FC = TypeVar("FC", bound=Callable[..., Any])
_DIR = click.Path(file_okay=False, path_type=Path)


def _ca_option(fn: FC) -> FC:
    return click.option("--ca", "ca_dir", type=_DIR, default=Path("ca"), show_default=True,
                        help="the CA's directory (its ca.pem and ca.key)")(fn)


def _days_option(default: int) -> Callable[[FC], FC]:
    return click.option("--days", type=click.IntRange(1, 36500), default=default,
                        show_default=True, help="days the certificate is valid")


def _report(what: str, issued: Issued) -> None:
    click.echo(f"{what} {issued.subject}: certificate {issued.cert}, key {issued.key} "
               f"(mode 600), valid until {issued.not_after:%Y-%m-%d}")


@click.group("ca")
def ca() -> None:
    """The alliance's certificate authority: the host's and terminals' TLS certificates."""


@ca.command("init")
@click.option("--out", type=_DIR, default=Path("ca"), show_default=True,
              help="new directory of the CA")
@click.option("--name", default="dualcard alliance CA", show_default=True,
              help="the CA's common name")
@_days_option(CA_DAYS)
@cli_errors
def init(out: Path, name: str, days: int) -> None:
    """[!] Make the alliance's CA: ca.pem for the host and terminals, ca.key kept offline."""
    _report("CA", init_ca(out, name=name, days=days))


@ca.command("issue-server")
@_ca_option
@click.option("--host", "hosts", multiple=True, required=True,
              help="a host name or IP address terminals dial (repeat for more)")
@click.option("--out", type=_DIR, required=True, help="directory for server.pem and server.key")
@_days_option(SERVER_DAYS)
@cli_errors
def issue_server_cmd(ca_dir: Path, hosts: tuple[str, ...], out: Path, days: int) -> None:
    """[!] Issue the service host's certificate for its names and addresses."""
    _report("host", issue_server(ca_dir, hosts, out, days=days))


@ca.command("issue-terminal")
@_ca_option
@click.option("--terminal-id", required=True, help="the terminal's id (12 hex digits)")
@click.option("--out", type=_DIR, required=True,
              help="directory for terminal-<id>.pem and terminal-<id>.key")
@_days_option(TERMINAL_DAYS)
@cli_errors
def issue_terminal_cmd(ca_dir: Path, terminal_id: str, out: Path, days: int) -> None:
    """[!] Issue a terminal's certificate, naming its terminal id (for mutual TLS)."""
    _report("terminal", issue_terminal(ca_dir, terminal_id, out, days=days))
