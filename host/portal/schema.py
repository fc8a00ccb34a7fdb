"""The portal's tables, in the back office's database with their own metadata (as the
service host's are): created by :func:`create_portal_schema`, never by the ledger.

Secrets are stored as digests only: a password as its argon2id hash, a session id and a
reset code as their SHA-256 (both are 128+ bits of randomness, so a fast digest is enough;
a stolen table gives no live session).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, text

from host.backoffice.database import Database

__all__ = ["create_portal_schema", "portal_accounts", "portal_failures", "portal_metadata",
           "portal_reset_codes", "portal_sessions"]

portal_metadata = MetaData()

#: a login name, the back-office member it speaks for, its role and password hash
portal_accounts = Table(
    "portal_accounts",
    portal_metadata,
    Column("login", String(64), primary_key=True),
    Column("member_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("password_changed_at", BigInteger, nullable=False),
)

#: live sessions: SHA-256 of the cookie's id, whose account, the CSRF token of its forms
portal_sessions = Table(
    "portal_sessions",
    portal_metadata,
    Column("id_digest", String(64), primary_key=True),
    Column("login", String(64), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)
Index("ix_portal_sessions_login", portal_sessions.c.login)

#: one-time reset codes an operator issued (SHA-256 of the code), until used or expired
portal_reset_codes = Table(
    "portal_reset_codes",
    portal_metadata,
    Column("login", String(64), primary_key=True),
    Column("code_digest", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

#: failed logins and reset attempts, by key (``account:<login>``, ``address:<ip>``)
portal_failures = Table(
    "portal_failures",
    portal_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False),
    Column("ts", BigInteger, nullable=False),
)
Index("ix_portal_failures_key", portal_failures.c.key, portal_failures.c.ts)


#: a holder's notices, card activity and credit line's reasons, and a member's terminals,
#: newest first, without scanning the whole outbox, the issuer's log or every member's
#: credit reviews (the back office reads them by delivery state, by ARQC, by review); plain
#: SQL both databases accept, made with the tables
_INDEXES = {"bo_outbox": "CREATE INDEX IF NOT EXISTS ix_portal_outbox_recipient "
                         "ON bo_outbox (recipient_id, seq)",
            "bo_authorisations": "CREATE INDEX IF NOT EXISTS ix_portal_authorisations_card "
                                 "ON bo_authorisations (card_id, ts)",
            "bo_credit_changes": "CREATE INDEX IF NOT EXISTS ix_portal_credit_changes_member "
                                 "ON bo_credit_changes (member_id, seq)",
            "bo_terminals": "CREATE INDEX IF NOT EXISTS ix_portal_terminals_merchant "
                            "ON bo_terminals (merchant_id, terminal_id)"}


def create_portal_schema(db: Database) -> None:
    """Create the portal's tables (and its index on the outbox) that do not exist yet
    (idempotent)."""
    with db.schema_change() as conn:
        portal_metadata.create_all(conn)
        for table, statement in _INDEXES.items():
            if conn.dialect.has_table(conn, table):
                conn.execute(text(statement))
