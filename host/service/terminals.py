"""Terminals the service talks to: each one's MAC key, bound to its merchant.

A terminal is registered with the back office first (a merchant member's ``terminals``,
``bo_terminals``); :func:`register_terminal` then gives it a MAC key, stored in
``svc_terminal_keys`` under its terminal id. The key leaves the service once, to be
installed in the terminal; everywhere else it is named by its check value.

The service believes a message comes from the terminal its DE 41 names only when the MAC
verifies under that terminal's key, and acts for the merchant the back office registered
the terminal to (DE 42 must name it). A terminal the operator blocked
(:mod:`host.backoffice.terminals`) keeps its key and is refused on every message; the
directory reads its status with its key, in the one lookup.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import bindparam, delete, insert, select

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.members import merchant_of_terminal
from host.backoffice.schema import bo_terminals
from host.backoffice.terminals import TerminalStatus
from host.records.ids import check_terminal_id

from .errors import ServiceConfigurationError
from .kek import CLEAR, KeyVault, check_vault
from .mac import KEY_LENGTH as MAC_KEY_LENGTH
from .mac import key_check_value, mac_key, new_mac_key
from .schema import svc_terminal_keys

__all__ = ["TerminalDirectory", "TerminalKey", "register_terminal", "registered_terminals"]


@dataclass(frozen=True)
class TerminalKey:
    """A registered terminal: its id, its merchant and its MAC key (never in a repr); a
    ``blocked`` one is refused whatever it sends."""

    terminal_id: str
    merchant_id: str
    key: bytes = field(repr=False)
    blocked: bool = False

    @property
    def kcv(self) -> str:
        return key_check_value(self.key)

    @cached_property
    def cipher(self) -> BlockCipher:
        """The key's AES cipher, made once (its CMAC template with it): every message's
        MAC is checked and made with it while the directory keeps this terminal."""
        return BlockCipher(Algorithm.AES, self.key)


def register_terminal(db: Database, terminal_id: str, *, at: dt.datetime,
                      key: bytes | None = None, replace: bool = False,
                      vault: KeyVault = CLEAR) -> TerminalKey:
    """Give ``terminal_id`` a MAC key (a fresh random one unless ``key``), stored through
    ``vault``; a terminal that has one keeps it unless ``replace``. The terminal must belong
    to a merchant."""
    terminal_id = check_terminal_id(terminal_id)
    key = mac_key(key) if key is not None else new_mac_key()
    with db.write() as conn:
        check_vault(conn, vault)
        merchant = merchant_of_terminal(conn, terminal_id)
        if merchant is None:
            raise ServiceConfigurationError(
                f"terminal {terminal_id} belongs to no merchant: register it with a merchant "
                "member first")
        old = conn.execute(select(svc_terminal_keys.c.kcv)
                           .where(svc_terminal_keys.c.terminal_id == terminal_id)).first()
        if old is not None and not replace:
            raise ServiceConfigurationError(
                f"terminal {terminal_id} already has a MAC key (KCV {old.kcv})")
        conn.execute(delete(svc_terminal_keys).where(svc_terminal_keys.c.terminal_id == terminal_id))
        conn.execute(insert(svc_terminal_keys), {
            "terminal_id": terminal_id, "mac_key": vault.seal_key(key), "kcv": key_check_value(key),
            "created_at": to_micros(at)})
    return TerminalKey(terminal_id, merchant, key)


def registered_terminals(db: Database) -> list[tuple[str, str, str, str]]:
    """``(terminal id, merchant, KCV, status)`` of every keyed terminal, by terminal id."""
    query = (select(svc_terminal_keys.c.terminal_id, bo_terminals.c.merchant_id,
                    svc_terminal_keys.c.kcv, bo_terminals.c.status)
             .join(bo_terminals, bo_terminals.c.terminal_id == svc_terminal_keys.c.terminal_id)
             .order_by(svc_terminal_keys.c.terminal_id))
    with db.read() as conn:
        return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]


#: built once: every request of every terminal past the cache asks it
_LOOKUP = (select(svc_terminal_keys.c.mac_key, bo_terminals.c.merchant_id, bo_terminals.c.status)
           .join(bo_terminals, bo_terminals.c.terminal_id == svc_terminal_keys.c.terminal_id)
           .where(svc_terminal_keys.c.terminal_id == bindparam("terminal_id")))


class TerminalDirectory:
    """The registered terminals, read from the database and kept for ``max_age`` seconds
    (a replaced key, a terminal moved to another merchant, blocked or unblocked takes
    effect in every process within it); their keys unwrapped through ``vault``."""

    def __init__(self, db: Database, *, max_age: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, vault: KeyVault = CLEAR) -> None:
        self.db = db
        self.vault = vault
        self.max_age = max_age
        self._clock = clock
        self._known: dict[str, tuple[float, TerminalKey]] = {}

    def get(self, terminal_id: str) -> TerminalKey | None:
        """The terminal's key, merchant and status; None if it has no key (or no
        merchant)."""
        now = self._clock()
        cached = self._known.get(terminal_id)
        if cached is not None and now - cached[0] < self.max_age:
            return cached[1]
        with self.db.read() as conn:
            row = conn.execute(_LOOKUP, {"terminal_id": terminal_id}).first()
        if row is None:
            self._known.pop(terminal_id, None)
            return None
        key = self.vault.open_key(bytes(row.mac_key), MAC_KEY_LENGTH,
                                  f"the MAC key of terminal {terminal_id}")
        found = TerminalKey(terminal_id, row.merchant_id, key,
                            row.status == TerminalStatus.BLOCKED.value)
        self._known[terminal_id] = (now, found)
        return found
