"""Idempotency of prepaid requests: every write carries a client id; the first answer is
kept with a digest of what was asked, in the same transaction as the postings. The same id
with the same content answers the first result again (``exists``); with another content it
is refused (:class:`~host.backoffice.errors.IdReusedError`), nothing posted. A kill at any
point leaves either the whole operation or none of it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from host.backoffice.clock import to_micros
from host.backoffice.database import Database, chunked, insert_rows
from host.backoffice.errors import IdReusedError, ValidationError
from host.backoffice.prepaid.schema import FORMAT_VERSION, pp_requests
from host.backoffice.transfers import check_id

__all__ = ["answered", "answered_in", "remember", "remember_many"]

_MAX_REQUEST_ID = 64


def _key(kind: str, request_id: str) -> str:
    check_id(request_id, f"{kind} request id")
    if len(request_id) > _MAX_REQUEST_ID:
        raise ValidationError(f"{kind} request id longer than {_MAX_REQUEST_ID} characters")
    return f"{kind}/{request_id}"


def _digest(body: Mapping[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def answered(
    db: Database, conn: Connection, kind: str, request_id: str, body: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The first answer to this request (``status`` set to ``exists``), or None if it is new.
    Takes the request's lock first, so two copies sent at once are answered one after the
    other."""
    key = _key(kind, request_id)
    db.lock_key(conn, f"pp/{key}")
    row = conn.execute(select(pp_requests).where(pp_requests.c.id == key)).first()
    if row is None:
        return None
    if row.digest != _digest(body):
        raise IdReusedError(f"prepaid {kind} request", request_id, "content")
    result: dict[str, Any] = json.loads(row.result)
    return {**result, "status": "exists"}


def answered_in(
    conn: Connection, kind: str, bodies: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The first answers of those of many requests (id: body) answered before, for a caller
    that already holds a lock covering them all (a sales batch locks its programs)."""
    keys = {_key(kind, request_id): request_id for request_id in bodies}
    found: dict[str, dict[str, Any]] = {}
    for part in chunked(sorted(keys)):
        for row in conn.execute(select(pp_requests).where(pp_requests.c.id.in_(part))):
            request_id = keys[row.id]
            if row.digest != _digest(bodies[request_id]):
                raise IdReusedError(f"prepaid {kind} request", request_id, "content")
            found[request_id] = {**json.loads(row.result), "status": "exists"}
    return found


def remember_many(
    conn: Connection, kind: str, answers: Sequence[tuple[str, Mapping[str, Any],
                                                         Mapping[str, Any]]], *, at: datetime,
) -> None:
    """Store the answers of many new requests: (id, body, result) each."""
    ts = to_micros(at)
    insert_rows(conn, pp_requests, ("id", "digest", "result", "ts", "format_version"), [
        (_key(kind, rid), _digest(body), json.dumps({**result, "status": "created"},
                                                     sort_keys=True), ts, FORMAT_VERSION)
        for rid, body, result in answers])


def remember(
    conn: Connection, kind: str, request_id: str, body: Mapping[str, Any],
    result: Mapping[str, Any], *, at: datetime,
) -> dict[str, Any]:
    """Store the answer of a new request; returns it with ``status`` ``created``."""
    answer = {**result, "status": "created"}
    conn.execute(insert(pp_requests).values(
        id=_key(kind, request_id), digest=_digest(body), result=json.dumps(answer, sort_keys=True),
        ts=to_micros(at), format_version=FORMAT_VERSION,
    ))
    return answer
