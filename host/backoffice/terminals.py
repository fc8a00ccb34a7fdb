"""A member's terminals as the operator manages them: enrolled to a member, then active or
blocked.

A blocked terminal is refused by the service host on every message (ISO 8583 response
code 58, HTTP 403 ``terminal_blocked``), within the time its terminal directory keeps a
terminal (``max_age``); it keeps its MAC key, so unblocking it needs no visit. Each
block and unblock records who did it, when and why (the last change, on the terminal's
row in ``bo_terminals``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from host.backoffice.clock import from_micros, to_micros
from host.backoffice.errors import NotFoundError, ValidationError
from host.backoffice.members import WITH_TERMINALS, MemberKind
from host.backoffice.schema import FORMAT_VERSION, bo_members, bo_terminals
from host.records.ids import check_terminal_id

__all__ = ["MAX_REASON", "TerminalState", "TerminalStatus", "TerminalStatusError",
           "TerminalTakenError", "enrol_terminal", "set_terminal_status", "terminal_states"]

#: the longest reason a block or unblock keeps, in characters
MAX_REASON = 200


class TerminalTakenError(ValidationError):
    """The terminal id is enrolled already (to this member or another)."""


class TerminalStatusError(ValidationError):
    """The terminal is already blocked (or active): the change asked for changes nothing."""


class TerminalStatus(StrEnum):
    """Whether the service host answers a terminal (the one definition of the states)."""

    ACTIVE = "active"
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class TerminalState:
    """A terminal, its member and its status, with the last change of it (None before any)."""

    terminal_id: str
    merchant_id: str
    created_at: datetime
    status: TerminalStatus
    changed_by: str | None = None
    changed_at: datetime | None = None
    reason: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> TerminalState:
        return cls(row.terminal_id, row.merchant_id, from_micros(row.created_at),
                   TerminalStatus(row.status), row.status_by,
                   None if row.status_at is None else from_micros(row.status_at),
                   row.status_reason)

    @property
    def blocked(self) -> bool:
        return self.status is TerminalStatus.BLOCKED


def enrol_terminal(conn: Connection, terminal_id: str, member_id: str, *,
                   at: datetime) -> TerminalState:
    """Register ``terminal_id`` (12 hex digits) to ``member_id``, a merchant, bank or
    insurer, active; a terminal id is enrolled once, to one member."""
    terminal_id = check_terminal_id(terminal_id)
    kind = conn.execute(select(bo_members.c.kind).where(bo_members.c.id == member_id)).scalar()
    if kind is None:
        raise NotFoundError(f"no member {member_id!r}")
    if MemberKind(kind) not in WITH_TERMINALS:
        raise ValidationError(f"member {member_id} is a {kind}: only merchants, banks and "
                              "insurers have terminals")
    taken = conn.execute(select(bo_terminals.c.merchant_id)
                         .where(bo_terminals.c.terminal_id == terminal_id)).scalar()
    if taken is not None:
        raise TerminalTakenError(f"terminal {terminal_id} belongs to {taken}")
    conn.execute(insert(bo_terminals), {
        "terminal_id": terminal_id, "merchant_id": member_id, "created_at": to_micros(at),
        "format_version": FORMAT_VERSION, "status": TerminalStatus.ACTIVE.value})
    return TerminalState(terminal_id, member_id, at, TerminalStatus.ACTIVE)


def set_terminal_status(conn: Connection, terminal_id: str, status: TerminalStatus, *,
                        by: str, reason: str, at: datetime) -> TerminalState:
    """Block or unblock a terminal, saying who (a login or an operator's name) and why; a
    terminal already in ``status`` is refused, so the recorded change stays the one that
    made it so."""
    terminal_id = check_terminal_id(terminal_id)
    reason, by = reason.strip(), by.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationError(f"a reason of 1-{MAX_REASON} characters is required")
    if not by:
        raise ValidationError("who changes the terminal's status must be named")
    row = conn.execute(select(bo_terminals).where(bo_terminals.c.terminal_id == terminal_id)
                       ).first()
    if row is None:
        raise NotFoundError(f"no terminal {terminal_id}")
    if row.status == status.value:
        raise TerminalStatusError(f"terminal {terminal_id} is already {status.value}")
    conn.execute(update(bo_terminals).where(bo_terminals.c.terminal_id == terminal_id).values(
        status=status.value, status_by=by[:64], status_at=to_micros(at), status_reason=reason))
    return TerminalState(terminal_id, row.merchant_id, from_micros(row.created_at), status,
                         by[:64], at, reason)


def terminal_states(conn: Connection, member_id: str | None = None) -> list[TerminalState]:
    """Every terminal (or ``member_id``'s), by terminal id."""
    query = select(bo_terminals).order_by(bo_terminals.c.terminal_id)
    if member_id is not None:
        query = query.where(bo_terminals.c.merchant_id == member_id)
    return [TerminalState.from_row(row) for row in conn.execute(query)]
