"""The MAC of every message between a terminal and the service: AES-CMAC, 8 bytes.

Each terminal has its own 16-byte AES key, registered with the service
(:mod:`host.service.terminals`). The MAC is the last field of the message: DE 64 when no
field above 64 is present, DE 128 otherwise (a network management message carries DE 70).
It is AES-CMAC (NIST SP 800-38B, ISO/IEC 9797-1 MAC algorithm 5) over every byte of the
encoded message before it (MTI, bitmaps, fields), leftmost 8 bytes: the bitmap that says a
MAC follows is itself covered, so neither a field nor the MAC's position can be changed.

A key is shown by its check value only: AES-ECB(key, 16 x 01), leftmost 3 bytes (the
GlobalPlatform convention the project uses for every AES key, :mod:`apdu_specs.crypto.kcv`).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from apdu_specs.crypto.ciphers import Algorithm, CipherKey
from apdu_specs.crypto.kcv import kcv as _kcv
from apdu_specs.crypto.mac import cmac

from .errors import MessageFormatError, ServiceConfigurationError
from .iso8583 import FIELDS, Message, encode

__all__ = ["KEY_FILE_FORMAT", "KEY_LENGTH", "MAC_LENGTH", "key_check_value", "key_file_text", "mac_key",
           "new_mac_key", "read_key_file", "sign", "verify", "write_key_file", "write_private_file"]

KEY_LENGTH = 16
MAC_LENGTH = 8
KEY_FILE_FORMAT = "dualcard-terminal-key/1"


def new_mac_key() -> bytes:
    """A fresh terminal MAC key from the operating system's random source."""
    return secrets.token_bytes(KEY_LENGTH)


def mac_key(value: bytes) -> bytes:
    """``value`` if it is a usable terminal key (16 bytes), else :class:`ValueError`."""
    if not isinstance(value, bytes) or len(value) != KEY_LENGTH:
        raise ValueError(f"a terminal MAC key is {KEY_LENGTH} bytes (AES-128)")
    return value


def key_check_value(key: bytes) -> str:
    """The key's check value (6 hex digits): what is shown instead of the key."""
    return _kcv(Algorithm.AES, mac_key(key)).hex().upper()


#: the fields of the secondary bitmap, but the MAC itself
_SECONDARY = tuple(f.key for f in FIELDS if f.key.isdigit() and 64 < int(f.key) < 128)


def mac_field(message: Mapping[str, Any]) -> str:
    """Where the MAC goes: DE 128 if any field above 64 is present, else DE 64."""
    return "128" if any(k in message for k in _SECONDARY) else "64"


def _mac(key: CipherKey, covered: bytes) -> bytes:
    return cmac(Algorithm.AES, key, covered)[:MAC_LENGTH]


def sign(message: Mapping[str, Any], key: CipherKey) -> bytes:
    """The encoded message with its MAC (any MAC field given is replaced). ``key``: the
    terminal's key, or the AES cipher its owner keeps for it (``TerminalKey.cipher``)."""
    doc = {k: v for k, v in message.items() if k not in ("64", "128")}
    doc[mac_field(doc)] = bytes(MAC_LENGTH)
    raw = encode(doc)
    covered = raw[:-MAC_LENGTH]
    return covered + _mac(key, covered)


def verify(raw: bytes, message: Message, key: CipherKey) -> bool:
    """Whether ``raw`` (decoded as ``message``) ends with a MAC that ``key`` made, in the
    field the dialect puts it in. :class:`MessageFormatError` if it carries no MAC there."""
    where = mac_field(message)
    highest = max((int(k) for k in message if k.isdigit()), default=0)
    if where not in message or highest != int(where):
        raise MessageFormatError(f"the message does not end with its MAC in DE {where}")
    return hmac.compare_digest(_mac(key, raw[:-MAC_LENGTH]), raw[-MAC_LENGTH:])


# -- the key file a terminal is installed with ----------------------------------------------


def write_key_file(path: str | Path, *, terminal_id: str, key: bytes) -> None:
    """Write the terminal's key for its installation: a new file (never one that exists),
    readable by its owner only."""
    write_private_file(path, key_file_text(terminal_id, key))


def key_file_text(terminal_id: str, key: bytes) -> str:
    """What a terminal's key file holds (its id, the key, its KCV): written by the CLI,
    shown once by the portal for the operator to save."""
    return json.dumps({"format": KEY_FILE_FORMAT, "terminal_id": terminal_id,
                       "key": mac_key(key).hex().upper(), "kcv": key_check_value(key)}) + "\n"


def write_private_file(path: str | Path, body: str) -> None:
    """Write ``body`` to a new file (never one that exists) readable by its owner only: how
    a key leaves the service for a terminal's installation."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ServiceConfigurationError(f"{path} exists: a key file is never overwritten") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(body)


def read_key_file(path: str | Path) -> tuple[str, bytes]:
    """``(terminal id, key)`` from a key file; :class:`ServiceConfigurationError` names what
    is wrong (its KCV must match its key)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("format") != KEY_FILE_FORMAT:
            raise ValueError(f"format must be {KEY_FILE_FORMAT!r}")
        key = mac_key(bytes.fromhex(data["key"]))
        if key_check_value(key) != data.get("kcv"):
            raise ValueError("its KCV does not match its key")
        return str(data["terminal_id"]), key
    except OSError as exc:
        raise ServiceConfigurationError(f"cannot read key file {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ServiceConfigurationError(f"key file {path} is not a terminal key: {exc}") from None
