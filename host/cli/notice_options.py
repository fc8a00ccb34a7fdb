"""Options of the notice dispatcher shared by ``dualcard host notices run`` and ``dualcard
host serve --notices``: where e-mail goes out (SMTP server, port, STARTTLS, sender, login)
and how hard to try. The SMTP password is read from ``$DUALCARD_SMTP_PASSWORD`` only, never
from the command line (where other users of the machine could see it). Every option can
also be set by its environment variable (``$DUALCARD_SMTP_HOST`` and so on)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

from host.backoffice.database import Database
from host.service.kek import CLEAR, KeyVault
from host.service.notices import (
    Dispatcher,
    InboxChannel,
    RetryPolicy,
    SMTPChannel,
    SMTPSettings,
    WebhookChannel,
    create_notices_schema,
)
from host.service.notices.background import dispatching
from host.service.notices.channels import Sender

__all__ = ["background_notices", "build_dispatcher", "dispatcher_options",
           "serve_notices_options"]

_OPTIONS = [
    click.option("--smtp-host", envvar="DUALCARD_SMTP_HOST", default=None, metavar="HOST",
                 help="SMTP server for e-mail notices (default: no e-mail is sent)"),
    click.option("--smtp-port", envvar="DUALCARD_SMTP_PORT", type=click.IntRange(1, 65535),
                 default=25, show_default=True),
    click.option("--smtp-starttls/--smtp-plain", envvar="DUALCARD_SMTP_STARTTLS",
                 default=False, show_default=True,
                 help="upgrade to TLS with STARTTLS (the server's certificate is verified)"),
    click.option("--smtp-from", envvar="DUALCARD_SMTP_FROM",
                 default="notices@dualcard.invalid", show_default=True,
                 help="the e-mails' From address"),
    click.option("--smtp-user", envvar="DUALCARD_SMTP_USER", default=None,
                 help="SMTP login (its password from $DUALCARD_SMTP_PASSWORD)"),
    click.option("--max-attempts", type=click.IntRange(1, 100), default=12, show_default=True,
                 help="attempts before a delivery is dead"),
    click.option("--webhook-timeout", type=click.FloatRange(0.1, 300), default=10.0,
                 show_default=True, help="seconds a merchant's webhook has to answer"),
]


def dispatcher_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


def serve_notices_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--notices`` and the dispatcher's options, for ``dualcard host serve``."""
    fn = dispatcher_options(fn)
    return click.option("--notices", is_flag=True,
                        help="also deliver the outbox's notices, on a thread of this "
                             "process (e-mail only with --smtp-host)")(fn)


def build_dispatcher(db: Database, *, smtp_host: str | None, smtp_port: int,
                     smtp_starttls: bool, smtp_from: str, smtp_user: str | None,
                     max_attempts: int, webhook_timeout: float,
                     vault: KeyVault = CLEAR) -> Dispatcher:
    """A dispatcher on the inbox, webhooks and, given an SMTP server, e-mail."""
    create_notices_schema(db)
    senders: list[Sender] = [InboxChannel(db), WebhookChannel(timeout=webhook_timeout)]
    if smtp_host:
        senders.append(SMTPChannel(SMTPSettings(
            smtp_host, smtp_port, smtp_starttls, smtp_from, smtp_user,
            os.environ.get("DUALCARD_SMTP_PASSWORD"))))
    return Dispatcher(db, senders, policy=RetryPolicy(max_attempts=max_attempts), vault=vault)


@contextlib.contextmanager
def background_notices(db: Database, *, notices: bool, **settings: Any) -> Iterator[None]:
    """The dispatcher on a thread for the block, if ``notices``."""
    with dispatching(build_dispatcher(db, **settings) if notices else None):
        yield
