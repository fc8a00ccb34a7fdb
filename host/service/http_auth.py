"""How a terminal signs its HTTP requests, and how the service signs its answers.

The key is the terminal's MAC key, the one its ISO 8583 messages are MACed with
(:mod:`.mac`, ``svc_terminal_keys``), and so is the algorithm: AES-CMAC. The signed
strings start with a line no ISO 8583 message can start with (an MTI is four digits), so a
MAC made for one door is never a MAC for the other.

A request carries four headers:

- ``Dualcard-Terminal``: the terminal id (12 hex digits);
- ``Dualcard-Timestamp``: when it was sent, UTC, RFC 3339 in whole seconds
  (``2025-06-18T01:30:00Z``); the service refuses one more than its window away from its
  clock;
- ``Idempotency-Key``: 1–64 characters of ``A-Z a-z 0-9 . _ : -``, new for each request the
  terminal means, the same for every retry of it;
- ``Dualcard-MAC``: AES-CMAC (16 bytes, 32 lower-case hex digits) over the request's
  signing string, the lines (``\\n`` between them, none after the last)::

      DUALCARD-HTTP-REQUEST/1
      <method>                      POST
      <target>                      /v1/batches?at=2025-06-18T02%3A00%3A00%2B00%3A00
      <terminal id>                 0000000A0001
      <timestamp>                   2025-06-18T01:30:00Z
      <idempotency key>             3f1c...
      <SHA-256 of the body>         64 lower-case hex digits (of no bytes for a GET)

  The target is the path and query exactly as sent on the request line.

An answer to an authenticated request carries ``Dualcard-MAC`` over::

      DUALCARD-HTTP-RESPONSE/1
      <status>                      200
      <method> <target> <terminal id> <timestamp> <idempotency key>   of the request, one a line
      <SHA-256 of the answer's body>

so an answer cannot be moved to another request, nor its status changed. A request that
was not authenticated (401) gets no MAC back.

This module imports no back office: the terminal's network link signs with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.mac import cmac

__all__ = [
    "IDEMPOTENCY_KEY",
    "MAC",
    "TERMINAL",
    "TIMESTAMP",
    "Signed",
    "format_timestamp",
    "mac_matches",
    "parse_timestamp",
    "request_headers",
    "request_mac",
    "response_mac",
    "signed_of",
    "valid_idempotency_key",
]

TERMINAL = "Dualcard-Terminal"
TIMESTAMP = "Dualcard-Timestamp"
IDEMPOTENCY_KEY = "Idempotency-Key"
MAC = "Dualcard-MAC"

_REQUEST = "DUALCARD-HTTP-REQUEST/1"
_RESPONSE = "DUALCARD-HTTP-RESPONSE/1"
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_TERMINAL = re.compile(r"[0-9A-F]{12}")


@dataclass(frozen=True)
class Signed:
    """What a request's signature covers besides its body."""

    method: str
    target: str  #: path and query, as sent
    terminal_id: str
    timestamp: str
    idempotency_key: str

    def lines(self) -> list[str]:
        return [self.method, self.target, self.terminal_id, self.timestamp,
                self.idempotency_key]


def format_timestamp(when: dt.datetime) -> str:
    """``Dualcard-Timestamp`` of an aware time."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str) -> dt.datetime | None:
    """The time a ``Dualcard-Timestamp`` names; None if it is not one."""
    if not _TIMESTAMP.fullmatch(value):
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def valid_idempotency_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _mac(key: bytes, lines: list[str]) -> str:
    return cmac(Algorithm.AES, key, "\n".join(lines).encode("utf-8")).hex()


def request_mac(key: bytes, signed: Signed, body: bytes) -> str:
    """The ``Dualcard-MAC`` of a request."""
    return _mac(key, [_REQUEST, *signed.lines(), _digest(body)])


def response_mac(key: bytes, signed: Signed, status: int, body: bytes) -> str:
    """The ``Dualcard-MAC`` of the answer to the request ``signed`` describes."""
    return _mac(key, [_RESPONSE, str(status), *signed.lines(), _digest(body)])


def request_headers(key: bytes, signed: Signed, body: bytes) -> dict[str, str]:
    """The four headers that sign a request."""
    return {TERMINAL: signed.terminal_id, TIMESTAMP: signed.timestamp,
            IDEMPOTENCY_KEY: signed.idempotency_key, MAC: request_mac(key, signed, body)}


def signed_of(method: str, target: str, headers: Mapping[str, str]) -> Signed | str:
    """What a request claims to be (its header names in lower case), or the reason it
    cannot be read."""
    values = {}
    for name in (TERMINAL, TIMESTAMP, IDEMPOTENCY_KEY, MAC):
        value = headers.get(name.lower())
        if not value:
            return f"missing header {name}"
        values[name] = value
    if not _TERMINAL.fullmatch(values[TERMINAL]):
        return f"{TERMINAL} must be 12 upper-case hex digits"
    if parse_timestamp(values[TIMESTAMP]) is None:
        return f"{TIMESTAMP} must be a UTC time like 2025-06-18T01:30:00Z"
    if not valid_idempotency_key(values[IDEMPOTENCY_KEY]):
        return f"{IDEMPOTENCY_KEY} must be 1-64 characters of A-Z a-z 0-9 . _ : -"
    return Signed(method, target, values[TERMINAL], values[TIMESTAMP], values[IDEMPOTENCY_KEY])


def mac_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of two MACs in hex (case ignored)."""
    return hmac.compare_digest(expected.encode(), given.lower().encode("ascii", "replace"))
