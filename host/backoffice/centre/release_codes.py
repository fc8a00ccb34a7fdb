"""One-time release codes (F25): given to the holder when an order is held, entered by the
merchant on delivery. No I/O.

A code is six random digits; only a salted SHA-256 digest is stored, and a code entered is
compared with :func:`hmac.compare_digest` so the time taken says nothing about how much of it
was right. A code is never logged: it exists in clear only in the answer to the holder.
After :data:`MAX_TRIES` wrong entries the order's code is locked (the order stays held and
can still be accepted by the holder, voided, or expire).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["CODE_DIGITS", "MAX_TRIES", "code_digest", "code_matches", "new_code"]

CODE_DIGITS = 6
MAX_TRIES = 5


def new_code() -> tuple[str, bytes, bytes]:
    """A fresh code, its salt and its digest."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_bytes(16)
    return code, salt, code_digest(code, salt)


def code_digest(code: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + code.encode("utf-8")).digest()


def code_matches(entered: str, salt: bytes, digest: bytes) -> bool:
    """Whether ``entered`` is the code, compared in constant time."""
    return hmac.compare_digest(code_digest(entered, salt), digest)
