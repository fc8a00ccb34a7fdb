"""Server-side sessions: the cookie carries a random id (256 bits), the database its
SHA-256, the account and the CSRF token of the session's forms.

A session is made only by a successful login (or a password change), always with a new
id, so an id planted in a browser before login never becomes a session (no fixation);
logging out, changing or resetting the password deletes it. A session lasts
``lifetime`` from login, whatever is done with it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert

from host.backoffice.clock import to_micros
from host.backoffice.database import Database, on_driver

from .auth import PortalAccount, PortalRole, digest
from .schema import portal_accounts, portal_sessions

__all__ = ["Session", "Sessions"]

#: a session and its account, by the id's digest: plain SQL on the driver (every page
#: asks it, and SQLAlchemy's execution costs several times what SQLite does for it)
_LOOKUP = (f"SELECT s.csrf, s.expires_at, a.login, a.member_id, a.role "
           f"FROM {portal_sessions.name} s JOIN {portal_accounts.name} a ON a.login = s.login "
           "WHERE s.id_digest = ?")


@dataclass(frozen=True, slots=True)
class Session:
    """A live session: whose it is and the token its forms must carry."""

    account: PortalAccount
    csrf: str

    @property
    def member_id(self) -> str:
        return self.account.member_id

    @property
    def role(self) -> PortalRole:
        return self.account.role


class Sessions:
    def __init__(self, db: Database, *, clock: Callable[[], dt.datetime],
                 lifetime: dt.timedelta = dt.timedelta(hours=8)) -> None:
        self.db = db
        self.clock = clock
        self.lifetime = lifetime

    def start(self, account: PortalAccount, *, replacing: str | None = None) -> tuple[str, Session]:
        """A new session for ``account`` (its cookie value and itself); the session whose id
        was ``replacing`` (if any) ends."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.write() as conn:
            if replacing:
                conn.execute(delete(portal_sessions)
                             .where(portal_sessions.c.id_digest == digest(replacing)))
            conn.execute(delete(portal_sessions)
                         .where(portal_sessions.c.expires_at <= to_micros(now)))
            conn.execute(insert(portal_sessions).values(
                id_digest=digest(token), login=account.login, csrf=csrf,
                created_at=to_micros(now), expires_at=to_micros(now + self.lifetime)))
        return token, Session(account, csrf)

    def find(self, token: str | None, *, conn: Connection | None = None) -> Session | None:
        """The live session this cookie value names, or None; read on ``conn`` when given
        (the request's read transaction)."""
        if not token or len(token) > 128:
            return None
        if conn is None:
            with self.db.read() as conn:
                return self.find(token, conn=conn)
        row = on_driver(conn, _LOOKUP, (digest(token),)).first()
        if row is None or row.expires_at <= to_micros(self.clock()):
            return None
        return Session(PortalAccount(row.login, row.member_id, PortalRole(row.role)), row.csrf)

    def end(self, token: str | None) -> None:
        if token:
            with self.db.write() as conn:
                conn.execute(delete(portal_sessions)
                             .where(portal_sessions.c.id_digest == digest(token)))
