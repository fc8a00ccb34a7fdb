"""HTTP requests acted on once: each terminal's idempotency keys and the answers they got.

A terminal sends every request under an ``Idempotency-Key`` and retries it under the same
key. Before the service acts on a request it claims the key in the database
(:meth:`IdempotencyStore.claim`), in its own write transaction, so two service processes
reached by the same request and its retry cannot both act on it:

- a key never seen is taken, the request is handled, and its answer stored
  (:meth:`~IdempotencyStore.complete`);
- a key seen with the same request (method, target and body) gives back the stored
  answer, whatever time the retry is signed at, and nothing is done again;
- a key seen with another request is a conflict (the service answers 409);
- a key whose request is still being handled is "in flight" (409, retry later); one
  left unanswered for longer than ``lease`` (its process died mid-request) is taken over,
  and the request is handled again. Every operation of the front door is safe to repeat
  at the back office (a batch, a redemption and a load grant are keyed by their own ids),
  except a stripe authorisation, which would be recorded twice (its first approval id is
  then never quoted).

An answer the service could not give (a 5xx) is not stored: the key is released
(:meth:`~IdempotencyStore.release`), and a retry is handled afresh. Keys are kept for
``retention`` (24 hours), far longer than the timestamp window, so a retry signed anew
still finds its answer; :meth:`~IdempotencyStore.purge` forgets older ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import text

from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.schema import FORMAT_VERSION

from .schema import svc_idempotency

__all__ = ["Claim", "ClaimState", "IdempotencyStore", "request_digest"]

_TABLE = svc_idempotency.name
_WHERE = "terminal_id = :terminal_id AND idempotency_key = :key"
_CLAIM = text(f"INSERT INTO {_TABLE} (terminal_id, idempotency_key, digest, created_at, "
              "format_version) VALUES (:terminal_id, :key, :digest, :now, :version) "
              "ON CONFLICT DO NOTHING")
_HELD = text(f"SELECT digest, status, body, created_at FROM {_TABLE} WHERE {_WHERE}")
_TAKE_OVER = text(f"UPDATE {_TABLE} SET created_at = :now WHERE {_WHERE} "
                  "AND status IS NULL AND created_at = :then")
_COMPLETE = text(f"UPDATE {_TABLE} SET status = :status, body = :body WHERE {_WHERE}")
_RELEASE = text(f"DELETE FROM {_TABLE} WHERE {_WHERE} AND status IS NULL")
_PURGE = text(f"DELETE FROM {_TABLE} WHERE created_at < :before")


class ClaimState(Enum):
    TAKEN = "taken"  #: act on the request, then complete or release the key
    ANSWERED = "answered"  #: the same request was answered: give back the stored answer
    CONFLICT = "conflict"  #: the key was used for another request
    IN_FLIGHT = "in_flight"  #: the same request is being handled now


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    status: int | None = None
    body: bytes = b""


def request_digest(method: str, target: str, body: bytes) -> bytes:
    """What identifies a request under its key: SHA-256 of method, target and body."""
    h = hashlib.sha256(f"{method}\n{target}\n".encode())
    h.update(body)
    return h.digest()


class IdempotencyStore:
    """The keys of every terminal, in the database the service processes share."""

    def __init__(self, db: Database, *, lease: dt.timedelta = dt.timedelta(seconds=60),
                 retention: dt.timedelta = dt.timedelta(hours=24)) -> None:
        self.db = db
        self.lease = lease
        self.retention = retention

    def claim(self, terminal_id: str, key: str, digest: bytes, *, now: dt.datetime) -> Claim:
        """Take ``key`` for the request ``digest`` names, or say why not."""
        names = {"terminal_id": terminal_id, "key": key}
        with self.db.write(flush=False) as conn:
            if conn.execute(_CLAIM, {**names, "digest": digest, "now": to_micros(now),
                                     "version": FORMAT_VERSION}).rowcount == 1:
                return Claim(ClaimState.TAKEN)
            held = conn.execute(_HELD, names).first()
            if held is None:  # purged between the two statements: the next try takes it
                return Claim(ClaimState.IN_FLIGHT)
            if bytes(held.digest) != digest:
                return Claim(ClaimState.CONFLICT)
            if held.status is not None:
                return Claim(ClaimState.ANSWERED, int(held.status), bytes(held.body or b""))
            stale = held.created_at + self.lease.total_seconds() * 1_000_000 < to_micros(now)
            if stale and conn.execute(_TAKE_OVER, {**names, "now": to_micros(now),
                                                   "then": held.created_at}).rowcount == 1:
                return Claim(ClaimState.TAKEN)
        return Claim(ClaimState.IN_FLIGHT)

    def complete(self, terminal_id: str, key: str, status: int, body: bytes) -> None:
        """Keep the answer a taken key's request got."""
        with self.db.write(flush=False) as conn:
            conn.execute(_COMPLETE, {"terminal_id": terminal_id, "key": key, "status": status,
                                     "body": body})

    def release(self, terminal_id: str, key: str) -> None:
        """Give a taken key back unanswered: a retry is handled afresh."""
        with self.db.write(flush=False) as conn:
            conn.execute(_RELEASE, {"terminal_id": terminal_id, "key": key})

    def purge(self, now: dt.datetime) -> int:
        """Forget keys older than the retention; how many were forgotten."""
        with self.db.write(flush=False) as conn:
            result = conn.execute(_PURGE, {"before": to_micros(now - self.retention)})
        return result.rowcount or 0
