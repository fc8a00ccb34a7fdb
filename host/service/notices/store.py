"""The dispatcher's reads and writes: who gets notices where, the deliveries to make,
claiming them, recording what each attempt came to, and the inbox.

Claiming is one statement: the due rows (pending, due, no live lease, of a channel this
dispatcher serves) get this dispatcher's name and a lease expiry, and come back. On
PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` in a CTE, so two dispatchers claiming at
once take different rows and neither waits; on SQLite the write transaction
(``BEGIN IMMEDIATE``) already lets one claimer in at a time, and the same guarded UPDATE
runs. A notice is marked delivered in ``bo_outbox`` when all its deliveries are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from apdu_specs.errors import LocalError
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database
from host.backoffice.members import MemberKind, find_member
from host.backoffice.schema import FORMAT_VERSION, bo_outbox
from host.service.errors import ServiceError
from host.service.kek import CLEAR, WRAPPED_SECRET_PREFIX, KeyVault, check_vault

from .policy import Channel, Dead, DeliveryState, Retry, channels_for, notice_id
from .schema import svc_inbox, svc_notice_addresses, svc_notice_deliveries, svc_webhooks

__all__ = ["Delivery", "InboxEntry", "Job", "NoticeSetupError", "NoticeStateError", "claim",
           "deliveries", "fan_out", "put_in_inbox", "read_inbox", "record_delivered",
           "record_failure", "release", "retry_dead", "set_email", "set_webhook", "webhooks"]

_D = svc_notice_deliveries
_PENDING, _DELIVERED, _DEAD = (s.value for s in DeliveryState)


class NoticeSetupError(ServiceError, LocalError):
    """An address, webhook URL or secret that cannot be used as given; names which."""


class NoticeStateError(ServiceError, LocalError):
    """A delivery that is not there, or not in the state the operator's command needs."""


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed delivery: the notice, the channel, where to send it."""

    delivery_id: int
    seq: int
    channel: Channel
    recipient_id: str
    kind: str
    body: dict[str, Any]
    created_at: datetime
    attempts: int  #: this attempt's number (1 for the first)
    email: str | None = None
    webhook: tuple[str, bytes] | None = None  #: URL and secret

    @property
    def notice_id(self) -> str:
        return notice_id(self.seq)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as operators see it."""

    id: int
    notice_id: str
    channel: str
    recipient_id: str
    kind: str
    state: str
    attempts: int
    next_at: datetime
    last_error: str | None
    delivered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "notice": self.notice_id, "channel": self.channel,
                "recipient": self.recipient_id, "kind": self.kind, "state": self.state,
                "attempts": self.attempts, "next_at": self.next_at.isoformat(),
                "last_error": self.last_error,
                "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None}


@dataclass(frozen=True, slots=True)
class InboxEntry:
    notice_id: str
    kind: str
    body: dict[str, Any]
    created_at: datetime
    read_at: datetime | None  #: when it was first shown; None the first time

    def as_dict(self) -> dict[str, Any]:
        return {"notice": self.notice_id, "kind": self.kind, "body": self.body,
                "created_at": self.created_at.isoformat(),
                "read_at": self.read_at.isoformat() if self.read_at else None}


# -- who gets notices where ------------------------------------------------------------------


def set_email(db: Database, member_id: str, address: str, *, at: datetime) -> None:
    """Put ``address`` on file for ``member_id`` (replacing the one there)."""
    name, parsed = parseaddr(address)
    if name or parsed != address or address.count("@") != 1 or " " in address:
        raise NoticeSetupError(f"not an e-mail address: {address!r}")
    with db.write() as conn:
        find_member(conn, member_id)
        _replace(conn, svc_notice_addresses, "member_id", member_id,
                 {"email": address, "updated_at": to_micros(at)})


def set_webhook(db: Database, merchant_id: str, url: str, secret: str, *,
                at: datetime, vault: KeyVault = CLEAR) -> None:
    """Register (or replace) ``merchant_id``'s webhook URL and signing secret (stored
    through ``vault``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NoticeSetupError(f"not an http(s) URL: {url!r}")
    if len(secret) < 16:
        raise NoticeSetupError("a webhook secret must have at least 16 characters")
    if secret.startswith(WRAPPED_SECRET_PREFIX):
        raise NoticeSetupError(f"a webhook secret must not start with {WRAPPED_SECRET_PREFIX!r}")
    with db.write() as conn:
        check_vault(conn, vault)
        if find_member(conn, merchant_id).kind is not MemberKind.MERCHANT:
            raise NoticeSetupError(f"{merchant_id!r} is not a merchant")
        _replace(conn, svc_webhooks, "merchant_id", merchant_id,
                 {"url": url, "secret": vault.seal_secret(secret),
                  "updated_at": to_micros(at)})


def webhooks(db: Database) -> list[tuple[str, str]]:
    """Each merchant's webhook URL (never its secret)."""
    query = select(svc_webhooks.c.merchant_id, svc_webhooks.c.url).order_by(
        svc_webhooks.c.merchant_id)
    with db.read() as conn:
        return [(r.merchant_id, r.url) for r in conn.execute(query)]


def _replace(conn: Connection, table: Any, key: str, value: str, row: dict[str, Any]) -> None:
    conn.execute(table.delete().where(table.c[key] == value))
    conn.execute(table.insert().values({key: value, **row, "format_version": FORMAT_VERSION}))


# -- deliveries ------------------------------------------------------------------------------


def fan_out(db: Database, *, at: datetime, limit: int = 500) -> int:
    """Make the deliveries of notices that have none yet (one per channel); how many
    notices. Two dispatchers doing it at once make each delivery once."""
    o = bo_outbox
    fresh = (select(o.c.seq, o.c.recipient_id)
             .where(o.c.delivered_at.is_(None), ~exists().where(_D.c.notice_seq == o.c.seq))
             .order_by(o.c.seq).limit(limit))
    ts = to_micros(at)
    with db.write() as conn:
        notices = conn.execute(fresh).all()
        if not notices:
            return 0
        recipients = {n.recipient_id for n in notices}
        mailed = _members_in(conn, svc_notice_addresses.c.member_id, recipients)
        hooked = _members_in(conn, svc_webhooks.c.merchant_id, recipients)
        rows = [{"notice_seq": n.seq, "channel": channel.value, "recipient_id": n.recipient_id,
                 "state": _PENDING, "attempts": 0, "next_at": ts, "created_at": ts,
                 "format_version": FORMAT_VERSION}
                for n in notices
                for channel in channels_for(email=n.recipient_id in mailed,
                                            webhook=n.recipient_id in hooked)]
        _insert_new(conn, _D, rows)
    return len(notices)


def _members_in(conn: Connection, column: Any, ids: Iterable[str]) -> set[str]:
    return set(conn.execute(select(column).where(column.in_(sorted(ids)))).scalars())


def _insert_new(conn: Connection, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the rows whose key is not there yet (the others are left as they are)."""
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    conn.execute(insert(table).on_conflict_do_nothing(), list(rows))


def claim(db: Database, owner: str, *, now: datetime, lease: timedelta,
          channels: Iterable[Channel], limit: int = 10,
          vault: KeyVault = CLEAR) -> list[Job]:
    """Take up to ``limit`` due deliveries on ``channels`` for ``owner`` until the lease
    expires; each comes back with what is needed to send it (webhook secrets unwrapped
    through ``vault``)."""
    ts = to_micros(now)
    due = and_(_D.c.state == _PENDING, _D.c.next_at <= ts,
               or_(_D.c.lease_until.is_(None), _D.c.lease_until <= ts),
               _D.c.channel.in_([c.value for c in channels]))
    pick = select(_D.c.id).where(due).order_by(_D.c.next_at, _D.c.id).limit(limit)
    if not db.is_sqlite:
        pick = pick.with_for_update(skip_locked=True)
    picked = pick.cte("picked")  # evaluated once (an IN subquery may be run again per row)
    take = (update(_D).where(_D.c.id == picked.c.id, due)
            .values(lease_owner=owner, lease_until=to_micros(now + lease),
                    attempts=_D.c.attempts + 1)
            .returning(_D.c.id, _D.c.notice_seq, _D.c.channel, _D.c.recipient_id,
                       _D.c.attempts))
    with db.write() as conn:
        claimed = sorted(conn.execute(take).all())
        return _jobs(conn, claimed, vault) if claimed else []


def _jobs(conn: Connection, claimed: Sequence[Any], vault: KeyVault) -> list[Job]:
    seqs = sorted({c.notice_seq for c in claimed})
    notices = {r.seq: r for r in conn.execute(select(bo_outbox).where(bo_outbox.c.seq.in_(seqs)))}
    recipients = sorted({c.recipient_id for c in claimed})
    emails = dict(conn.execute(select(svc_notice_addresses.c.member_id,
                                      svc_notice_addresses.c.email)
                               .where(svc_notice_addresses.c.member_id.in_(recipients))).all())
    hooks = {r.merchant_id: (r.url, vault.open_secret(
        r.secret, f"the webhook secret of {r.merchant_id}").encode()) for r in conn.execute(
        select(svc_webhooks).where(svc_webhooks.c.merchant_id.in_(recipients)))}
    return [Job(c.id, c.notice_seq, Channel(c.channel), c.recipient_id,
                notices[c.notice_seq].kind, json.loads(notices[c.notice_seq].body),
                from_micros(notices[c.notice_seq].created_at), c.attempts,
                emails.get(c.recipient_id), hooks.get(c.recipient_id))
            for c in claimed]


def release(db: Database, jobs: Sequence[Job], owner: str) -> None:
    """Give back claimed deliveries not attempted (a dispatcher stopping): due again at
    once for any dispatcher, their attempt not counted."""
    ids = [j.delivery_id for j in jobs]
    with db.write() as conn:
        conn.execute(update(_D).where(_D.c.id.in_(ids), _D.c.state == _PENDING,
                                      _D.c.lease_owner == owner)
                     .values(lease_owner=None, lease_until=None, attempts=_D.c.attempts - 1))


def record_delivered(db: Database, job: Job, *, at: datetime) -> bool:
    """Mark the delivery done (False if it already was), and its notice delivered in the
    outbox once every delivery of it is. The notice's outbox row is locked first, so two
    dispatchers finishing its last two deliveries at once see each other's."""
    ts = to_micros(at)
    with db.write() as conn:
        conn.execute(select(bo_outbox.c.seq).where(bo_outbox.c.seq == job.seq)
                     .with_for_update())
        done = conn.execute(
            update(_D).where(_D.c.id == job.delivery_id, _D.c.state == _PENDING)
            .values(state=_DELIVERED, delivered_at=ts, lease_owner=None, lease_until=None,
                    last_error=None)).rowcount
        if done:
            open_ = exists().where(_D.c.notice_seq == job.seq, _D.c.state != _DELIVERED)
            conn.execute(update(bo_outbox)
                         .where(bo_outbox.c.seq == job.seq, bo_outbox.c.delivered_at.is_(None),
                                ~open_)
                         .values(delivered_at=ts))
    return bool(done)


def record_failure(db: Database, job: Job, owner: str, decision: Retry | Dead,
                   detail: str) -> None:
    """Record a failed attempt: due again at the decision's time, or dead. Left alone if
    another dispatcher took the delivery over meanwhile (this one's lease had expired)."""
    values: dict[str, Any] = {"lease_owner": None, "lease_until": None,
                              "last_error": detail[:500]}
    if isinstance(decision, Dead):
        values["state"] = _DEAD
    else:
        values["next_at"] = to_micros(decision.at)
    with db.write() as conn:
        conn.execute(update(_D).where(_D.c.id == job.delivery_id, _D.c.state == _PENDING,
                                      _D.c.lease_owner == owner).values(values))


def retry_dead(db: Database, delivery_id: int, *, at: datetime) -> None:
    """Give a dead delivery a fresh set of attempts, due now."""
    with db.write() as conn:
        revived = conn.execute(
            update(_D).where(_D.c.id == delivery_id, _D.c.state == _DEAD)
            .values(state=_PENDING, attempts=0, next_at=to_micros(at))).rowcount
        if revived:
            return
        state = conn.execute(select(_D.c.state).where(_D.c.id == delivery_id)).scalar()
    if state is None:
        raise NoticeStateError(f"no delivery {delivery_id}")
    raise NoticeStateError(f"delivery {delivery_id} is {state}, not dead")


def deliveries(db: Database, *, state: DeliveryState | None = None,
               limit: int = 100) -> list[Delivery]:
    """Deliveries, oldest first (of one state if given)."""
    query = (select(_D, bo_outbox.c.kind).join(bo_outbox, bo_outbox.c.seq == _D.c.notice_seq)
             .order_by(_D.c.id).limit(limit))
    if state is not None:
        query = query.where(_D.c.state == state.value)
    with db.read() as conn:
        return [Delivery(r.id, notice_id(r.notice_seq), r.channel, r.recipient_id, r.kind,
                         r.state, r.attempts, from_micros(r.next_at), r.last_error,
                         None if r.delivered_at is None else from_micros(r.delivered_at))
                for r in conn.execute(query)]


# -- the inbox -------------------------------------------------------------------------------


def put_in_inbox(db: Database, job: Job, *, at: datetime) -> None:
    """Deliver a notice to its recipient's inbox (again: nothing changes)."""
    with db.write() as conn:
        _insert_new(conn, svc_inbox, [{
            "notice_seq": job.seq, "recipient_id": job.recipient_id, "kind": job.kind,
            "body": json.dumps(job.body, sort_keys=True),
            "created_at": to_micros(job.created_at), "delivered_at": to_micros(at),
            "format_version": FORMAT_VERSION}])


def read_inbox(db: Database, recipient_id: str, *, at: datetime,
               unread_only: bool = True) -> list[InboxEntry]:
    """A recipient's inbox, oldest first (only what was never shown, by default); what
    was never shown is marked read at ``at``, so it is shown as new once."""
    i = svc_inbox
    query = select(i).where(i.c.recipient_id == recipient_id).order_by(i.c.notice_seq)
    if unread_only:
        query = query.where(i.c.read_at.is_(None))
    with db.write() as conn:
        rows = conn.execute(query).all()
        unread = [r.notice_seq for r in rows if r.read_at is None]
        if unread:
            conn.execute(update(i).where(i.c.notice_seq.in_(unread), i.c.read_at.is_(None))
                         .values(read_at=to_micros(at)))
    return [InboxEntry(notice_id(r.notice_seq), r.kind, json.loads(r.body),
                       from_micros(r.created_at),
                       None if r.read_at is None else from_micros(r.read_at)) for r in rows]
