"""Each terminal's zone PIN key (ZPK): the key its online PIN blocks travel under.

A PIN block is enciphered by the terminal's PIN pad under the terminal's own ZPK (ISO
9564-1 format 0, 3DES) and deciphered by the service under the same key, looked up by the
terminal the message's MAC authenticated: a block made under another terminal's key does
not decode, or decodes to another PIN, and is refused. The ZPK is a key of its own, not
derived from the terminal's MAC key (one key, one purpose), registered per terminal in
``svc_terminal_pin_keys`` (:func:`register_pin_key`; ``dualcard host terminal pin-key``)
and handed to the terminal once in a key file (:func:`write_pin_key_file`), as its MAC
key is. Everywhere else a ZPK is named by its check value (3DES of zeros, 3 bytes).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, insert, select

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.parity import has_odd_parity, with_odd_parity
from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.members import merchant_of_terminal
from host.records.ids import check_terminal_id

from .errors import ServiceConfigurationError
from .kek import CLEAR, KeyVault, check_vault
from .mac import write_private_file
from .schema import svc_terminal_pin_keys

__all__ = ["PIN_KEY_FILE_FORMAT", "ZPK_LENGTH", "TerminalPINKey", "new_zpk", "pin_key_of",
           "read_pin_key_file", "register_pin_key", "write_pin_key_file", "zpk",
           "zpk_check_value"]

ZPK_LENGTH = 16
PIN_KEY_FILE_FORMAT = "dualcard-terminal-zpk/1"


@dataclass(frozen=True)
class TerminalPINKey:
    """A terminal's ZPK (never in a repr)."""

    terminal_id: str
    key: bytes = field(repr=False)

    @property
    def kcv(self) -> str:
        return zpk_check_value(self.key)


def zpk(value: bytes) -> bytes:
    """``value`` if it is a usable ZPK (16 bytes, odd parity, two different halves)."""
    if not isinstance(value, bytes) or len(value) != ZPK_LENGTH or not has_odd_parity(value) \
            or value[:8] == value[8:]:
        raise ValueError("a ZPK is a 2-key 3DES key: 16 bytes, odd parity, two different halves")
    return value


def new_zpk() -> bytes:
    """A fresh ZPK from the operating system's random source."""
    while True:
        key = with_odd_parity(secrets.token_bytes(ZPK_LENGTH))
        if key[:8] != key[8:]:
            return key


def zpk_check_value(key: bytes) -> str:
    return kcv(Algorithm.TDES, zpk(key)).hex().upper()


def register_pin_key(db: Database, terminal_id: str, *, at: dt.datetime,
                     key: bytes | None = None, replace: bool = False,
                     vault: KeyVault = CLEAR) -> TerminalPINKey:
    """Give ``terminal_id`` (a merchant's terminal) a ZPK, stored through ``vault``; one
    that has a ZPK keeps it unless ``replace``."""
    terminal_id = check_terminal_id(terminal_id)
    key = zpk(key) if key is not None else new_zpk()
    with db.write() as conn:
        check_vault(conn, vault)
        if merchant_of_terminal(conn, terminal_id) is None:
            raise ServiceConfigurationError(f"terminal {terminal_id} belongs to no merchant")
        old = conn.execute(select(svc_terminal_pin_keys.c.kcv)
                           .where(svc_terminal_pin_keys.c.terminal_id == terminal_id)).first()
        if old is not None and not replace:
            raise ServiceConfigurationError(
                f"terminal {terminal_id} already has a ZPK (KCV {old.kcv})")
        conn.execute(delete(svc_terminal_pin_keys)
                     .where(svc_terminal_pin_keys.c.terminal_id == terminal_id))
        conn.execute(insert(svc_terminal_pin_keys), {
            "terminal_id": terminal_id, "zpk": vault.seal_key(key), "kcv": zpk_check_value(key),
            "created_at": to_micros(at)})
    return TerminalPINKey(terminal_id, key)


def pin_key_of(db: Database, terminal_id: str, vault: KeyVault = CLEAR) -> bytes | None:
    """The terminal's ZPK, read on every PIN check (a replaced key counts at once) and
    unwrapped through ``vault``."""
    with db.read() as conn:
        key = conn.execute(select(svc_terminal_pin_keys.c.zpk)
                           .where(svc_terminal_pin_keys.c.terminal_id == terminal_id)).scalar()
    return None if key is None else vault.open_key(bytes(key), ZPK_LENGTH,
                                                   f"the ZPK of terminal {terminal_id}")


def write_pin_key_file(path: str | Path, key: TerminalPINKey) -> None:
    """The ZPK for the terminal's PIN pad: a new file, readable by its owner only."""
    write_private_file(path, json.dumps({
        "format": PIN_KEY_FILE_FORMAT, "terminal_id": key.terminal_id,
        "zpk": zpk(key.key).hex().upper(), "kcv": key.kcv}) + "\n")


def read_pin_key_file(path: str | Path) -> TerminalPINKey:
    """The terminal's ZPK from its key file (its KCV must match its key)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != PIN_KEY_FILE_FORMAT:
            raise ValueError(f"format must be {PIN_KEY_FILE_FORMAT!r}")
        key = TerminalPINKey(str(data["terminal_id"]), zpk(bytes.fromhex(data["zpk"])))
        if key.kcv != data.get("kcv"):
            raise ValueError("its KCV does not match its key")
        return key
    except OSError as exc:
        raise ServiceConfigurationError(f"cannot read key file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ServiceConfigurationError(f"key file {path} is not a ZPK file: {exc}") from None
