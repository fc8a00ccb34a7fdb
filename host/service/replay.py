"""Replays refused: a request is acted on once per terminal, STAN and window.

A request's DE 7 (transmission time) must be within ``window`` of the service's clock, and
its STAN (DE 11) must not be live for its terminal: a STAN stays taken while the DE 7 of
the request that took it is inside the window, so a copy sent later is either stale or a
duplicate. The STAN is taken in the database *before* anything is decided
(:meth:`ReplayGuard.reserve`), first in the write transaction the request is handled in
(its own for most requests; an authorisation's also holds the issuer's record and the
hold, :mod:`.core`), so two service processes serving the same terminal cannot both act
on one request: the second waits for the first's commit (SQLite's write lock, the row's
lock on PostgreSQL) and then finds the STAN taken. A request whose transaction never
commits (a crash) leaves its STAN free for its repeat.

The row keeps the request's ``digest`` (its bytes without MTI and MAC): a repeat (0101)
is the same request again, and the handler answers it from the issuer's own record
(:mod:`.core`), not from a copy of the answer kept here. A reversal that names a request
the service has not seen takes that request's STAN in its stead (:data:`REVERSED_FIRST`,
in the reversal's transaction): when the request comes it is refused (68) at its STAN,
so a request that takes its STAN afresh was reversed by nobody before, and its handler
need not look (:mod:`.holds`).

Rows are written without waiting for the disk (``Database.write(flush=False)``): lost in a
power cut together with the issuer's log of its answers, a replayed request is answered
once more, as the lost original was; the ARQC it carries is still answered once per log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database, on_driver
from host.backoffice.schema import FORMAT_VERSION

from .schema import svc_seen_messages

__all__ = ["REVERSED_FIRST", "ReplayGuard"]

# Plain SQL on the driver (:func:`on_driver`): this runs once per request.
_TABLE = svc_seen_messages.name
_CLAIM = (f"INSERT INTO {_TABLE} (terminal_id, stan, sent_at, digest, format_version) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
_HOLDER = f"SELECT sent_at, digest FROM {_TABLE} WHERE terminal_id = ? AND stan = ?"
_FREE = f"DELETE FROM {_TABLE} WHERE terminal_id = ? AND stan = ?"
#: the digest a STAN is held by when a reversal named its request before it came (a
#: request's digest is 32 bytes: never this)
REVERSED_FIRST = b"reversed first"


class ReplayGuard:
    """The seen STANs of every terminal, in the database the service processes share."""

    def __init__(self, db: Database, *, window: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.db = db
        self.window = window

    def in_window(self, sent_at: dt.datetime, now: dt.datetime) -> bool:
        return abs(now - sent_at) <= self.window

    def reserve(self, terminal_id: str, stan: int, sent_at: dt.datetime, digest: bytes, *,
                now: dt.datetime) -> bytes | None:
        """Take ``stan`` for the request ``digest`` names: None when taken now, else the
        digest of the live request that holds it (this one again, or another)."""
        key = (terminal_id, stan)
        row = (terminal_id, stan, to_micros(sent_at), digest, FORMAT_VERSION)
        # no savepoint of its own: every error here refuses the request, whose unit
        # (:mod:`.core`) is undone whole
        with self.db.write(flush=False, alone=False) as conn:
            if on_driver(conn, _CLAIM, row).rowcount == 1:
                return None
            held = on_driver(conn, _HOLDER, key).first()
            if held is not None and from_micros(held[0]) + self.window >= now:
                return bytes(held[1])
            on_driver(conn, _FREE, key)  # it left the window: the STAN is free again
            on_driver(conn, _CLAIM, row)
        return None

    def purge(self, now: dt.datetime) -> int:
        """Forget requests whose DE 7 left the window; how many were forgotten."""
        with self.db.write(flush=False) as conn:
            result = conn.execute(delete(svc_seen_messages)
                                  .where(svc_seen_messages.c.sent_at < to_micros(now - self.window)))
        return result.rowcount or 0
