"""How a terminal's command dials the service host: its address and TLS, in one place.

``dualcard host echo`` and ``dualcard pos saf flush`` both reach the host as a terminal
does; they take the same options and refuse the same way: over TLS with the alliance CA
(and the terminal's own certificate when the host asks for mutual TLS), or in clear only
when ``--plain`` says so, for a lab.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from host.service.tls import client_context

__all__ = ["host_address", "terminal_tls", "terminal_tls_options"]

_PEM_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def terminal_tls_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--tls-ca``, ``--tls-cert``, ``--tls-key`` and ``--plain``."""
    for option in reversed((
        click.option("--tls-ca", type=_PEM_FILE, default=None,
                     help="the alliance CA (PEM): the host's certificate must be its"),
        click.option("--tls-cert", type=_PEM_FILE, default=None,
                     help="the terminal's certificate (PEM), for a host asking for mutual TLS"),
        click.option("--tls-key", type=_PEM_FILE, default=None, help="its private key (PEM)"),
        click.option("--plain", is_flag=True, help="dial in clear, without TLS (a lab only)"),
    )):
        fn = option(fn)
    return fn


def terminal_tls(tls_ca: Path | None, tls_cert: Path | None, tls_key: Path | None,
                 plain: bool) -> ssl.SSLContext | None:
    """The terminal's TLS context, or None with ``--plain``; a usage error for neither or
    both."""
    if plain == (tls_ca is not None):
        raise click.UsageError("the host is dialled over TLS: give --tls-ca (the alliance CA), "
                               "or --plain, without TLS, for a lab")
    return None if tls_ca is None else client_context(tls_ca, cert=tls_cert, key=tls_key)


def host_address(address: str, option: str = "address") -> tuple[str, int]:
    """``HOST:PORT`` as a pair; a usage error naming ``option`` otherwise."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise click.UsageError(f"{option} {address!r}: give HOST:PORT")
    return host, int(port)
