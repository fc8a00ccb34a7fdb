"""Notices to consumers and merchants (F19's messaging module): points earned, limit raised,
settlement posted. They are written to an outbox table in the same transaction as the event
they announce, so a notice exists if and only if its event committed; a delivery channel
(SMS, app push, e-mail) reads the undelivered ones and marks them delivered."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.database import Database, chunked, insert_rows
from host.backoffice.schema import FORMAT_VERSION, bo_outbox

__all__ = ["Message", "MessageKind", "Notice", "mark_delivered", "post_notices", "undelivered"]


class MessageKind(StrEnum):
    POINTS_EARNED = "points_earned"
    POINTS_REDEEMED = "points_redeemed"
    LIMIT_RAISED = "limit_raised"
    SETTLEMENT = "settlement"
    CONVERSION = "conversion"
    # the settlement centre (host.backoffice.centre)
    TOPUP_FAILED = "topup_failed"
    ORDER_RELEASED = "order_released"
    RELEASE_CODE_LOCKED = "release_code_locked"
    BUDGET_CROSSED = "budget_crossed"
    CREDIT_LINE_CHANGED = "credit_line_changed"


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice to be written; ``dedup_key`` makes writing it idempotent."""

    dedup_key: str
    recipient_id: str
    kind: MessageKind
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    """A notice as stored in the outbox."""

    seq: int
    recipient_id: str
    kind: MessageKind
    body: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "recipient": self.recipient_id, "kind": self.kind.value,
            "body": self.body, "created_at": self.created_at.isoformat(),
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


#: ``json.dumps(body, sort_keys=True)`` without building an encoder per notice (clearing
#: writes one notice per card holder of a batch).
_BODY_JSON = json.JSONEncoder(sort_keys=True)


def post_notices(conn: Connection, notices: Sequence[Notice], *, at: datetime) -> None:
    """Write notices inside the caller's transaction."""
    if not notices:
        return
    ts = to_micros(at)
    columns = ("dedup_key", "recipient_id", "kind", "body", "created_at", "format_version")
    rows = [
        (n.dedup_key, n.recipient_id, n.kind._value_, _BODY_JSON.encode(n.body), ts,
         FORMAT_VERSION)
        for n in notices
    ]
    if len(rows) == 1:  # a lone notice: the plain statement is simpler than the bulk path
        conn.execute(insert(bo_outbox).values(dict(zip(columns, rows[0], strict=True))))
        return
    insert_rows(conn, bo_outbox, columns, rows)


def undelivered(
    db: Database, *, limit: int = 100, recipient_id: str | None = None
) -> list[Message]:
    """The oldest notices not yet delivered."""
    query = select(bo_outbox).where(bo_outbox.c.delivered_at.is_(None))
    if recipient_id is not None:
        query = query.where(bo_outbox.c.recipient_id == recipient_id)
    query = query.order_by(bo_outbox.c.seq).limit(limit)
    with db.read() as conn:
        return [_message(r) for r in conn.execute(query)]


def mark_delivered(db: Database, seqs: Sequence[int], *, at: datetime) -> int:
    """Mark notices delivered (those already marked keep their first time)."""
    count = 0
    with db.write() as conn:
        for part in chunked(sorted(set(seqs))):
            result = conn.execute(
                update(bo_outbox)
                .where(bo_outbox.c.seq.in_(part), bo_outbox.c.delivered_at.is_(None))
                .values(delivered_at=to_micros(at))
            )
            count += result.rowcount
    return count


def _message(row: Any) -> Message:
    return Message(
        row.seq, row.recipient_id, MessageKind(row.kind), json.loads(row.body),
        from_micros(row.created_at),
        None if row.delivered_at is None else from_micros(row.delivered_at),
    )
