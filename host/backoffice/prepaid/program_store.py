"""Programs in the database: adding one (its merchant's prepaid accounts opened in the same
transaction) and finding them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from host.backoffice.clock import to_micros
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, find_member
from host.backoffice.prepaid.accounts import merchant_specs
from host.backoffice.prepaid.programs import Program, ProgramKind
from host.backoffice.prepaid.schema import FORMAT_VERSION, pp_programs

__all__ = ["add_program", "find_program", "list_programs", "program_from_row",
           "take_sequences"]

_P = pp_programs
_FIELDS = ("merchant_id", "kind", "card_cap", "insurer_id", "premium_bp", "bonus_bp",
           "discount_bp", "uses", "term_days", "valid_days", "priority", "anonymous_cap")


def add_program(conn: Connection, ledger: Ledger, program: Program, *, at: datetime) -> str:
    """Record a program (``created``), or find it again (``exists``); the same id with other
    rules is refused."""
    row = conn.execute(select(_P).where(_P.c.id == program.id)).first()
    if row is not None:
        known = program_from_row(row)
        for name in _FIELDS:
            if getattr(known, name) != getattr(program, name):
                raise IdReusedError("program", program.id, name)
        return "exists"
    _require_member(conn, program.merchant_id, MemberKind.MERCHANT)
    _require_member(conn, program.insurer_id, MemberKind.INSURER)
    number = (conn.execute(select(func.max(_P.c.number))).scalar() or 0) + 1
    values = {k: v for k, v in asdict(program).items()}
    values["kind"] = program.kind.value
    conn.execute(insert(_P).values(**values, number=number, next_seq=1,
                                   created_at=to_micros(at), format_version=FORMAT_VERSION))
    ledger.create_accounts_in(conn, merchant_specs(program.merchant_id), at=at)
    return "created"


def _require_member(conn: Connection, member_id: str, kind: MemberKind) -> None:
    member = find_member(conn, member_id)
    if member.kind is not kind:
        raise ValidationError(f"{member_id} is a {member.kind.value}, not a {kind.value}")


def program_from_row(row: Any) -> Program:
    return Program(row.id, row.merchant_id, ProgramKind(row.kind), row.card_cap,
                   row.insurer_id, row.premium_bp, row.bonus_bp, row.discount_bp, row.uses,
                   row.term_days, row.valid_days, row.priority, row.anonymous_cap)


def find_program(conn: Connection, program_id: str) -> Program:
    row = conn.execute(select(_P).where(_P.c.id == program_id)).first()
    if row is None:
        raise NotFoundError(f"no prepaid program {program_id!r}")
    return program_from_row(row)


def list_programs(conn: Connection, merchant_id: str | None = None) -> list[Program]:
    query = select(_P).order_by(_P.c.id)
    if merchant_id is not None:
        query = query.where(_P.c.merchant_id == merchant_id)
    return [program_from_row(row) for row in conn.execute(query)]


def take_sequences(conn: Connection, program_id: str, count: int) -> tuple[int, int]:
    """Reserve ``count`` card sequence numbers of a program: its number and the first."""
    number, after = conn.execute(
        _P.update().where(_P.c.id == program_id).values(next_seq=_P.c.next_seq + count)
        .returning(_P.c.number, _P.c.next_seq)
    ).one()
    return int(number), int(after) - count
