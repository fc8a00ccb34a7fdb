"""Terminal keys and webhook secrets at rest, wrapped under a key-encryption key (KEK).

The service stores each terminal's MAC key (``svc_terminal_keys``), each terminal's zone PIN
key (``svc_terminal_pin_keys``) and each merchant's webhook secret (``svc_webhooks``). Read
from the database alone they must be of no use: each is wrapped under the KEK (an AES key
the operator holds outside the database, in a file or ``$DUALCARD_KEK``) with the AES key
wrap of NIST SP 800-38F: KW (RFC 3394) for the 16-byte keys, KWP (RFC 5649, with padding)
for the secrets, whose length varies. A wrapped key carries its own integrity check: it
unwraps under its KEK alone.

Which KEK a database's keys are wrapped under is named by its check value in ``svc_kek``
(one row): a process given another KEK stops at once with one line naming both check
values, before it unwraps anything. A database without that row holds its keys in clear
(as every database did before): it is served without a KEK, or wrapped once by
:func:`~host.service.wrap_keys.wrap_stored_keys` (``dualcard host keys wrap``); a KEK is
not taken beside clear keys. A database that starts with a KEK holds wrapped keys from its
first one (:func:`~host.service.wrap_keys.open_vault`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_unwrap_with_padding,
    aes_key_wrap,
    aes_key_wrap_with_padding,
)
from sqlalchemy import Connection, insert, select

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.kcv import kcv
from host.backoffice.clock import to_micros
from host.keystore import SecretSource, parse_secret_hex
from host.keystore.errors import KeyStoreError

from .errors import ServiceConfigurationError
from .schema import svc_kek

__all__ = ["CLEAR", "KEK_ENV", "WRAPPED_SECRET_PREFIX", "KeyVault", "KeyWrapError", "check_kek",
           "check_vault", "kek_check_value", "read_kek", "record_kek", "stored_kek_check_value"]

KEK_ENV = "DUALCARD_KEK"
KEK_LENGTHS = (16, 24, 32)
#: a wrapped webhook secret, in its text column: this prefix, then the wrapped bytes in hex
#: (no secret in clear starts with it: :func:`~host.service.notices.store.set_webhook`)
WRAPPED_SECRET_PREFIX = "kwp:"

class KeyWrapError(ServiceConfigurationError):
    """A KEK missing, malformed or not the database's, or a stored key that does not unwrap."""


def kek_check_value(kek: bytes) -> str:
    """The KEK's check value (AES of the constant block, 3 bytes), as ``svc_kek`` holds it."""
    return kcv(Algorithm.AES, kek).hex().upper()


def read_kek(file: Path | None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The KEK from ``file`` (first line, hex), else ``$DUALCARD_KEK``; None if neither."""
    environ = os.environ if environ is None else environ
    if file is None and KEK_ENV not in environ:
        return None
    try:
        kek = parse_secret_hex(SecretSource("key-encryption key", env=KEK_ENV, file=file)
                               .read(environ), "the key-encryption key")
    except KeyStoreError as exc:
        raise KeyWrapError(str(exc)) from None
    if len(kek) not in KEK_LENGTHS:
        raise KeyWrapError(f"the key-encryption key must be an AES key of 16, 24 or 32 bytes "
                           f"(32 hex digits or more), not {len(kek)} bytes")
    return kek


@dataclass(frozen=True)
class KeyVault:
    """Keys in and out of their stored form: wrapped under ``kek``, or in clear (None)."""

    kek: bytes | None = field(default=None, repr=False)

    @property
    def kcv(self) -> str | None:
        return None if self.kek is None else kek_check_value(self.kek)

    def seal_key(self, key: bytes) -> bytes:
        return key if self.kek is None else aes_key_wrap(self.kek, key)

    def open_key(self, stored: bytes, length: int, what: str) -> bytes:
        """The key ``stored`` holds (``length`` bytes in clear); ``what`` names it."""
        if len(stored) == length:
            if self.kek is not None:
                raise KeyWrapError(f"{what} is stored in clear under a wrapped database")
            return stored
        if self.kek is None:
            raise _kek_needed(what)
        try:
            return aes_key_unwrap(self.kek, stored)
        except (InvalidUnwrap, ValueError):
            raise KeyWrapError(f"{what} does not unwrap under the key-encryption key") from None

    def seal_secret(self, secret: str) -> str:
        if self.kek is None:
            return secret
        return WRAPPED_SECRET_PREFIX + aes_key_wrap_with_padding(self.kek, secret.encode()).hex()

    def open_secret(self, stored: str, what: str) -> str:
        if not stored.startswith(WRAPPED_SECRET_PREFIX):
            if self.kek is not None:
                raise KeyWrapError(f"{what} is stored in clear under a wrapped database")
            return stored
        if self.kek is None:
            raise _kek_needed(what)
        try:
            wrapped = bytes.fromhex(stored[len(WRAPPED_SECRET_PREFIX):])
            return aes_key_unwrap_with_padding(self.kek, wrapped).decode()
        except (InvalidUnwrap, ValueError):
            raise KeyWrapError(f"{what} does not unwrap under the key-encryption key") from None


def _kek_needed(what: str) -> KeyWrapError:
    return KeyWrapError(f"{what} is wrapped under a key-encryption key: give it (a file or "
                        f"${KEK_ENV})")


#: the vault of a database whose keys are in clear
CLEAR = KeyVault()


def stored_kek_check_value(conn: Connection) -> str | None:
    return conn.execute(select(svc_kek.c.kcv).where(svc_kek.c.id == 1)).scalar()


def check_vault(conn: Connection, vault: KeyVault) -> None:
    """Refuse to store a key through ``vault`` into a database wrapped otherwise (a clear
    key into a wrapped database, or one wrapped under another KEK)."""
    stored = stored_kek_check_value(conn)
    if stored is not None:
        check_kek(vault.kek, stored)
    elif vault.kek is not None:
        raise KeyWrapError("the database's keys are in clear: wrap them first "
                           "(`dualcard host keys wrap`)")


def check_kek(kek: bytes | None, stored: str) -> None:
    if kek is None:
        raise KeyWrapError(f"the database's keys are wrapped under a key-encryption key "
                           f"(KCV {stored}): give it in a file or ${KEK_ENV}")
    given = kek_check_value(kek)
    if given != stored:
        raise KeyWrapError(f"wrong key-encryption key: KCV {given} given, the database's "
                           f"keys are wrapped under KCV {stored}")


def record_kek(conn: Connection, kek: bytes, at: dt.datetime | None) -> None:
    conn.execute(insert(svc_kek), {"id": 1, "kcv": kek_check_value(kek),
                                   "created_at": to_micros(at or dt.datetime.now(dt.UTC))})
