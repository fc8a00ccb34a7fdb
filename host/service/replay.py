"""Replays refused: a request is acted on once per terminal, STAN and window.

A request's DE 7 (transmission time) must be within ``window`` of the service's clock, and
its STAN (DE 11) must not be live for its terminal: a STAN stays taken while the DE 7 of
the request that took it is inside the window, so a copy sent later is either stale or a
duplicate. The STAN is taken in the database *before* anything is decided
(:meth:`ReplayGuard.reserve`), in its own write transaction, so two service processes
serving the same terminal cannot both act on one request.

A repeat (0101) of a request carries the same STAN and DE 7; when its content is the
original's (``digest``: the request without MTI and MAC) it gets the original's answer
back and nothing is done again.

Rows are written without waiting for the disk (``Database.write(flush=False)``): lost in a
power cut together with the issuer's log of its answers, a replayed request is answered
once more, as the lost original was; the ARQC it carries is still answered once per log.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database

from .schema import svc_seen_messages

__all__ = ["ReplayGuard", "Seen"]

_T = svc_seen_messages.c
# (bind names other than the columns': an UPDATE reserves those for its SET clause)
_KEY = and_(_T.terminal_id == bindparam("k_terminal"), _T.stan == bindparam("k_stan"))
_SELECT = select(_T.sent_at, _T.digest, _T.answer).where(_KEY)
_DELETE = delete(svc_seen_messages).where(_KEY)
_INSERT = insert(svc_seen_messages)
_ANSWER = update(svc_seen_messages).where(_KEY).values(answer=bindparam("reply"))


@dataclass(frozen=True)
class Seen:
    """The request that holds a STAN: its digest and the answer it got (None: not yet)."""

    digest: bytes
    answer: bytes | None


class ReplayGuard:
    """The seen STANs of every terminal, in the database the service processes share."""

    def __init__(self, db: Database, *, window: dt.timedelta = dt.timedelta(minutes=5)) -> None:
        self.db = db
        self.window = window

    def in_window(self, sent_at: dt.datetime, now: dt.datetime) -> bool:
        return abs(now - sent_at) <= self.window

    def reserve(self, terminal_id: str, stan: int, sent_at: dt.datetime, digest: bytes, *,
                now: dt.datetime) -> Seen | None:
        """Take ``stan`` for this request: None when taken now, else the live request that
        holds it (this one again, or another)."""
        key = {"k_terminal": terminal_id, "k_stan": stan}
        try:
            with self.db.write(flush=False) as conn:
                row = conn.execute(_SELECT, key).first()
                if row is not None and from_micros(row.sent_at) + self.window >= now:
                    return Seen(bytes(row.digest), _bytes(row.answer))
                if row is not None:
                    conn.execute(_DELETE, key)
                conn.execute(_INSERT, {"terminal_id": terminal_id, "stan": stan,
                                       "sent_at": to_micros(sent_at), "digest": digest})
        except IntegrityError:  # another process took it between our read and our insert
            with self.db.read() as conn:
                row = conn.execute(_SELECT, key).first()
            return Seen(b"", None) if row is None else Seen(bytes(row.digest), _bytes(row.answer))
        return None

    def answered(self, terminal_id: str, stan: int, answer: bytes) -> None:
        """Keep the answer a repeat of the request holding ``stan`` gets."""
        with self.db.write(flush=False) as conn:
            conn.execute(_ANSWER, {"k_terminal": terminal_id, "k_stan": stan, "reply": answer})

    def purge(self, now: dt.datetime) -> int:
        """Forget requests whose DE 7 left the window; how many were forgotten."""
        with self.db.write(flush=False) as conn:
            result = conn.execute(delete(svc_seen_messages)
                                  .where(_T.sent_at < to_micros(now - self.window)))
        return result.rowcount or 0


def _bytes(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)
