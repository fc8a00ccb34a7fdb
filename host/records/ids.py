"""Ids that terminals put in their records and the back office checks: client-supplied ids
(batch, record, card, transfer ids) and PBOC terminal numbers."""

from __future__ import annotations

import re

from host.records.errors import ValidationError

__all__ = ["ID_RE", "check_id", "check_terminal_id"]

#: a client-supplied id: 1–128 characters of a safe set, starting with a letter or digit
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/@+=-]{0,127}")
_TERMINAL_ID = re.compile(r"[0-9A-F]{12}")


def check_id(value: object, what: str = "id") -> str:
    """Client-supplied ids: 1–128 printable characters from a safe set.

    Ids starting with ``~`` are reserved for transfers the ledger makes itself (expiries).
    """
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise ValidationError(
            f"{what} must be 1-128 characters of [A-Za-z0-9_.:/@+=-] starting with a letter "
            f"or digit, got {value!r}"
        )
    return value


def check_terminal_id(terminal_id: object) -> str:
    """Terminal ids are the 6-byte PBOC terminal number, as 12 upper-case hex digits."""
    if isinstance(terminal_id, str):
        terminal_id = terminal_id.replace(" ", "").upper()
    if not isinstance(terminal_id, str) or not _TERMINAL_ID.fullmatch(terminal_id):
        raise ValidationError(f"terminal id must be 12 hex digits, got {terminal_id!r}")
    return terminal_id
