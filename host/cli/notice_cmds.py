"""``dualcard host notices …`` and ``dualcard host webhooks …``: delivering the back
office's outbox (F19) and what it needs to know.

``notices run`` delivers until SIGTERM or SIGINT (``--once``: one round); ``notices list``
shows deliveries (``--state dead`` what needs an operator), ``notices retry ID`` gives a
dead one new attempts; ``notices email MEMBER ADDRESS`` puts an address on file;
``notices inbox MEMBER`` shows what the portal would (each notice new once).
``webhooks set MERCHANT URL --secret-file F`` registers where a merchant's notices are
posted and the secret they are signed with.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from host.backoffice.database import Database
from host.service.errors import ServiceConfigurationError
from host.service.notices import DeliveryState, create_notices_schema
from host.service.notices.store import (
    deliveries,
    read_inbox,
    retry_dead,
    set_email,
    set_webhook,
    webhooks,
)

from .card_io import emit
from .errors import cli_errors
from .host_cmds import _db_option, _log_json_lines, _url, host
from .kek_options import kek_option, vault_of
from .notice_options import build_dispatcher, dispatcher_options
from .options import json_option

__all__ = ["notices", "webhooks_group"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextlib.contextmanager
def _database(db_url: str | None) -> Iterator[Database]:
    """The back office database, with the dispatcher's tables."""
    db = Database(_url(db_url))
    try:
        if not db.has_schema():
            raise ServiceConfigurationError(
                "the database holds no back office yet: run `dualcard ledger init`")
        create_notices_schema(db)
        yield db
    finally:
        db.dispose()


@click.group("notices")
def notices() -> None:
    """Notices from the outbox: by e-mail, signed webhook and inbox."""


@notices.command("run")
@_db_option
@dispatcher_options
@click.option("--once", is_flag=True, help="one round: deliver what is due, then exit")
@click.option("--poll", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True,
              help="seconds between rounds when nothing was due")
@kek_option
@json_option
@cli_errors
def run(db_url: str | None, once: bool, poll: float, as_json: bool, kek_file: Path | None,
        **settings: Any) -> None:
    """[!] Deliver the outbox's notices until SIGTERM or SIGINT (or one round)."""
    _log_json_lines("info")
    with _database(db_url) as db:
        dispatcher = build_dispatcher(db, vault=vault_of(db, kek_file), **settings)
        try:
            if once:
                dispatcher.run_once()
            else:
                stop = threading.Event()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, lambda *_: stop.set())
                click.echo(f"dualcard host: notices on {', '.join(dispatcher.senders)}")
                dispatcher.run(stop, poll=poll)
        finally:
            dispatcher.close()
    counts = {k: dispatcher.counts[k] for k in ("delivered", "retry", "dead")}
    emit(counts, as_json, ", ".join(f"{k} {v}" for k, v in counts.items()))


@notices.command("list")
@_db_option
@click.option("--state", type=click.Choice([s.value for s in DeliveryState]), default=None)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@json_option
@cli_errors
def list_deliveries(db_url: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """Deliveries, oldest first: id, notice, channel, recipient, state, attempts."""
    with _database(db_url) as db:
        rows = deliveries(db, state=DeliveryState(state) if state else None, limit=limit)
    human = "\n".join(
        f"{d.id:<5} {d.notice_id:<10} {d.channel:<8} {d.recipient_id:<12} {d.state:<9} "
        f"attempts {d.attempts}" + (f"  {d.last_error}" if d.last_error else "")
        for d in rows) or "no deliveries"
    emit([d.as_dict() for d in rows], as_json, human)


@notices.command("retry")
@click.argument("delivery_id", type=int)
@_db_option
@cli_errors
def retry(delivery_id: int, db_url: str | None) -> None:
    """[!] Give dead delivery DELIVERY_ID new attempts, due now."""
    with _database(db_url) as db:
        retry_dead(db, delivery_id, at=_now())
    click.echo(f"delivery {delivery_id} is pending again")


@notices.command("email")
@click.argument("member_id")
@click.argument("address")
@_db_option
@cli_errors
def email(member_id: str, address: str, db_url: str | None) -> None:
    """[!] Mail MEMBER_ID's notices to ADDRESS from now on."""
    with _database(db_url) as db:
        set_email(db, member_id, address, at=_now())
    click.echo(f"{member_id}: notices by e-mail to {address}")


@notices.command("inbox")
@click.argument("member_id")
@_db_option
@click.option("--all", "show_all", is_flag=True, help="also the notices shown before")
@json_option
@cli_errors
def inbox(member_id: str, db_url: str | None, show_all: bool, as_json: bool) -> None:
    """[!] MEMBER_ID's new notices, marked read (each is new once)."""
    with _database(db_url) as db:
        entries = read_inbox(db, member_id, at=_now(), unread_only=not show_all)
    human = "\n".join(f"{e.notice_id:<10} {e.kind:<16} {'   ' if e.read_at else 'new'} "
                      f"{json.dumps(e.body, sort_keys=True)}" for e in entries) or "no new notices"
    emit([e.as_dict() for e in entries], as_json, human)


@click.group("webhooks")
def webhooks_group() -> None:
    """Merchants' webhooks: where their notices are posted, signed."""


@webhooks_group.command("set")
@click.argument("merchant_id")
@click.argument("url")
@click.option("--secret-file", type=click.Path(exists=True, dir_okay=False), required=True,
              help="file holding the signing secret (16 characters or more), shared with "
                   "the merchant")
@_db_option
@kek_option
@cli_errors
def set_hook(merchant_id: str, url: str, secret_file: str, db_url: str | None,
             kek_file: Path | None) -> None:
    """[!] Post MERCHANT_ID's notices to URL, signed with the secret in the file."""
    secret = Path(secret_file).read_text(encoding="utf-8").strip()
    with _database(db_url) as db:
        set_webhook(db, merchant_id, url, secret, at=_now(), vault=vault_of(db, kek_file))
    click.echo(f"{merchant_id}: notices posted to {url}")


@webhooks_group.command("list")
@_db_option
@json_option
@cli_errors
def list_hooks(db_url: str | None, as_json: bool) -> None:
    """Each merchant's webhook URL (never its secret)."""
    with _database(db_url) as db:
        rows = webhooks(db)
    emit([{"merchant_id": m, "url": u} for m, u in rows], as_json,
         "\n".join(f"{m:<20} {u}" for m, u in rows) or "no webhooks")


host.add_command(notices)
host.add_command(webhooks_group)
