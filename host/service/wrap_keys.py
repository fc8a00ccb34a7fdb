"""Wrapping a database's clear terminal keys and webhook secrets under a KEK, once
(``dualcard host keys wrap``), and opening the vault a process stores and reads them
through (:mod:`.kek`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, Table, func, select, update

from host.backoffice.database import Database

from .kek import (
    CLEAR,
    KeyVault,
    KeyWrapError,
    check_kek,
    record_kek,
    stored_kek_check_value,
)
from .notices.schema import create_notices_schema, svc_webhooks
from .schema import create_service_schema, svc_terminal_keys, svc_terminal_pin_keys

__all__ = ["open_vault", "wrap_stored_keys"]


def _clear_keys(conn: Connection) -> int:
    """How many keys and secrets the database holds in clear."""
    counts = [conn.execute(select(func.count()).select_from(svc_terminal_keys)).scalar(),
              conn.execute(select(func.count()).select_from(svc_terminal_pin_keys)).scalar(),
              conn.execute(select(func.count()).select_from(svc_webhooks)).scalar()]
    return sum(int(n or 0) for n in counts)


def _create_tables(db: Database) -> None:
    create_service_schema(db)
    create_notices_schema(db)


def open_vault(db: Database, kek: bytes | None, *, at: dt.datetime | None = None) -> KeyVault:
    """The vault for ``db``'s keys, the KEK checked against the one they are wrapped under.

    A database without keys given a KEK is wrapped from then on; one holding clear keys
    is refused a KEK until :func:`wrap_stored_keys` has wrapped them."""
    _create_tables(db)
    with db.write() as conn:
        stored = stored_kek_check_value(conn)
        if stored is not None:
            check_kek(kek, stored)
            return KeyVault(kek)
        if kek is None:
            return CLEAR
        if _clear_keys(conn):
            raise KeyWrapError("the database holds terminal keys or webhook secrets in clear: "
                               "wrap them first (`dualcard host keys wrap`)")
        record_kek(conn, kek, at)
    return KeyVault(kek)


def wrap_stored_keys(db: Database, kek: bytes, *, at: dt.datetime) -> int:
    """Wrap every clear key and secret of ``db`` under ``kek``, in one transaction; how many
    were wrapped (0 when they already are, under this KEK)."""
    _create_tables(db)
    vault = KeyVault(kek)
    with db.write() as conn:
        stored = stored_kek_check_value(conn)
        if stored is not None:
            check_kek(kek, stored)
            return 0
        wrapped = _wrap_column(conn, svc_terminal_keys, "mac_key", vault)
        wrapped += _wrap_column(conn, svc_terminal_pin_keys, "zpk", vault)
        for row in conn.execute(select(svc_webhooks.c.merchant_id, svc_webhooks.c.secret)).all():
            conn.execute(update(svc_webhooks).where(svc_webhooks.c.merchant_id == row[0])
                         .values(secret=vault.seal_secret(CLEAR.open_secret(row[1], "a secret"))))
            wrapped += 1
        record_kek(conn, kek, at)
    return wrapped


def _wrap_column(conn: Connection, table: Table, column: str, vault: KeyVault) -> int:
    rows = conn.execute(select(table.c.terminal_id, table.c[column])).all()
    for terminal_id, key in rows:
        clear = CLEAR.open_key(bytes(key), 16, f"the key of terminal {terminal_id}")
        conn.execute(update(table).where(table.c.terminal_id == terminal_id)
                     .values({column: vault.seal_key(clear)}))
    return len(rows)
