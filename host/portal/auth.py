"""Portal accounts: a login bound to one back-office member in one role, its password
hashed with argon2id; login throttling; one-time reset codes an operator issues.

A login is refused with one message whatever was wrong (no such account, wrong password),
and an unknown login costs the same hash as a known one, so the form tells nobody which
logins exist. Failures are counted in the database per account and per address
(:class:`Throttle`): past the limit, attempts are refused before any password is checked,
until the window has passed. A reset code is 80 random bits, shown once to the operator,
kept as its SHA-256, valid for a day and used once; redeeming it (or changing the
password) ends every session of the account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select, update

from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.errors import NotFoundError
from host.backoffice.members import MemberKind, find_member

from .errors import LoginRefusedError, PortalAccountError, ThrottledError
from .schema import portal_accounts, portal_failures, portal_reset_codes, portal_sessions

__all__ = ["MIN_PASSWORD", "Accounts", "PortalAccount", "PortalRole", "Throttle", "digest"]

MIN_PASSWORD = 10
_MAX_PASSWORD = 256
_LOGIN = re.compile(r"[a-z0-9][a-z0-9_.@-]{0,63}")
_RESET_LIFETIME = dt.timedelta(days=1)


class PortalRole(StrEnum):
    """Who logs in; each role speaks for one kind of back-office member."""

    CONSUMER = "consumer"
    MERCHANT = "merchant"
    INSURER = "insurer"
    OPERATOR = "operator"


#: the member kind each role must be bound to (an operator speaks for the alliance)
MEMBER_KIND = {PortalRole.CONSUMER: MemberKind.CONSUMER, PortalRole.MERCHANT: MemberKind.MERCHANT,
               PortalRole.INSURER: MemberKind.INSURER, PortalRole.OPERATOR: MemberKind.ALLIANCE}


@dataclass(frozen=True, slots=True)
class PortalAccount:
    login: str
    member_id: str
    role: PortalRole


def digest(secret: str) -> str:
    """SHA-256 of a random secret (session id, reset code), hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_login(login: str) -> str:
    if not _LOGIN.fullmatch(login):
        raise PortalAccountError(f"login {login!r}: 1-64 characters of a-z 0-9 _ . @ -")
    return login


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= _MAX_PASSWORD:
        raise PortalAccountError(
            f"a password has {MIN_PASSWORD} to {_MAX_PASSWORD} characters")
    return password


@dataclass(frozen=True)
class Throttle:
    """At most ``per_account`` failures per account and ``per_address`` per address within
    ``window``; past either, attempts are refused unchecked."""

    per_account: int = 5
    per_address: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)

    def keys(self, login: str, address: str) -> list[tuple[str, int]]:
        return [(f"account:{login}", self.per_account), (f"address:{address}", self.per_address)]

    def check(self, conn: Connection, login: str, address: str, now: dt.datetime) -> None:
        since = to_micros(now - self.window)
        for key, limit in self.keys(login, address):
            count, first = conn.execute(
                select(func.count(), func.min(portal_failures.c.ts))
                .where(portal_failures.c.key == key, portal_failures.c.ts > since)).one()
            if count >= limit:
                wait = (first - since) // 1_000_000 + 1
                raise ThrottledError(int(wait))

    def fail(self, conn: Connection, login: str, address: str, now: dt.datetime) -> None:
        conn.execute(insert(portal_failures), [
            {"key": key, "ts": to_micros(now)} for key, _ in self.keys(login, address)])
        conn.execute(delete(portal_failures)
                     .where(portal_failures.c.ts <= to_micros(now - self.window)))


class Accounts:
    """The portal's accounts over ``db`` (the back office's database)."""

    def __init__(self, db: Database, *, clock: Callable[[], dt.datetime],
                 hasher: PasswordHasher | None = None, throttle: Throttle | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()  # argon2id, RFC 9106's second choice
        self.throttle = throttle or Throttle()
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    def add(self, login: str, member_id: str, role: PortalRole, password: str) -> PortalAccount:
        """Open an account for ``member_id`` in ``role`` (the member must be of that kind)."""
        check_login(login)
        check_password(password)
        hashed = self.hasher.hash(password)
        now = to_micros(self.clock())
        with self.db.write() as conn:
            try:
                member = find_member(conn, member_id)
            except NotFoundError:
                raise PortalAccountError(f"no member {member_id!r} in the back office") from None
            if member.kind is not MEMBER_KIND[role]:
                raise PortalAccountError(f"member {member_id} is a {member.kind.value}: "
                                         f"a {role.value} account needs a "
                                         f"{MEMBER_KIND[role].value}")
            if self._row(conn, login) is not None:
                raise PortalAccountError(f"login {login!r} is taken")
            conn.execute(insert(portal_accounts).values(
                login=login, member_id=member_id, role=role.value, password_hash=hashed,
                created_at=now, password_changed_at=now))
        return PortalAccount(login, member_id, role)

    def list(self) -> list[PortalAccount]:
        with self.db.read() as conn:
            rows = conn.execute(select(portal_accounts).order_by(portal_accounts.c.login))
            return [PortalAccount(r.login, r.member_id, PortalRole(r.role)) for r in rows]

    def verify(self, login: str, password: str, address: str) -> PortalAccount:
        """The account whose password this is; :class:`ThrottledError` past the limits,
        :class:`LoginRefusedError` (one message) otherwise."""
        with self.db.read() as conn:
            self.throttle.check(conn, login, address, self.clock())
            row = self._row(conn, login)
        stored = row.password_hash if row is not None else self._dummy
        if not self._matches(stored, password) or row is None:
            self._failed(login, address)
            raise LoginRefusedError("the account or the password is wrong")
        if self.hasher.check_needs_rehash(stored):
            self._store_password(login, password, end_sessions=False)
        return PortalAccount(row.login, row.member_id, PortalRole(row.role))

    def change_password(self, login: str, current: str, new: str, address: str) -> None:
        """Set a new password given the current one; every session of the account ends."""
        check_password(new)
        self.verify(login, current, address)
        self._store_password(login, new, end_sessions=True)

    def issue_reset_code(self, login: str) -> str:
        """A new one-time code for ``login`` (replacing any earlier one), valid a day."""
        code = "-".join(secrets.token_hex(5)[i:i + 5] for i in (0, 5))
        expires = to_micros(self.clock() + _RESET_LIFETIME)
        with self.db.write() as conn:
            if self._row(conn, login) is None:
                raise PortalAccountError(f"no portal account {login!r}")
            conn.execute(delete(portal_reset_codes).where(portal_reset_codes.c.login == login))
            conn.execute(insert(portal_reset_codes).values(
                login=login, code_digest=digest(code), expires_at=expires))
        return code

    def reset(self, login: str, code: str, new: str, address: str) -> None:
        """Set a new password with a reset code: used once, throttled as a login is."""
        check_password(new)
        now = self.clock()
        with self.db.write() as conn:
            self.throttle.check(conn, login, address, now)
            row = conn.execute(select(portal_reset_codes)
                               .where(portal_reset_codes.c.login == login)).first()
            valid = row is not None and row.expires_at > to_micros(now) and \
                hmac.compare_digest(row.code_digest, digest(code.strip().lower()))
            if not valid:
                self.throttle.fail(conn, login, address, now)
            else:
                conn.execute(delete(portal_reset_codes).where(portal_reset_codes.c.login == login))
        if not valid:
            raise LoginRefusedError("the account or the reset code is wrong")
        self._store_password(login, new, end_sessions=True)

    def _matches(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _failed(self, login: str, address: str) -> None:
        with self.db.write() as conn:
            self.throttle.fail(conn, login, address, self.clock())

    def _store_password(self, login: str, password: str, *, end_sessions: bool) -> None:
        hashed = self.hasher.hash(password)
        with self.db.write() as conn:
            conn.execute(update(portal_accounts).where(portal_accounts.c.login == login)
                         .values(password_hash=hashed,
                                 password_changed_at=to_micros(self.clock())))
            if end_sessions:
                conn.execute(delete(portal_sessions).where(portal_sessions.c.login == login))

    @staticmethod
    def _row(conn: Connection, login: str) -> Any:
        return conn.execute(select(portal_accounts).where(portal_accounts.c.login == login)).first()
