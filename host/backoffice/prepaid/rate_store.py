"""Insurers' rate tables in the database: a row is defined once (the same row again is
``exists``, another content under its id is refused), never overlapping another row of its
insurer, and read by the issue of every policy it prices."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from host.backoffice.clock import to_micros
from host.backoffice.database import Database
from host.backoffice.errors import IdReusedError, ValidationError
from host.backoffice.members import MemberKind, find_member
from host.backoffice.prepaid.programs import HolderKind
from host.backoffice.prepaid.rates import RateRow, check_no_overlap
from host.backoffice.prepaid.schema import FORMAT_VERSION, pp_rates

__all__ = ["add_rate", "list_rates"]

_R = pp_rates
_FIELDS = ("term_from", "term_to", "insured_from", "insured_to", "rate_bp", "holder_kind")


def add_rate(db: Database, conn: Connection, row: RateRow, *, at: datetime) -> str:
    """Record one row of an insurer's table (``created``) or find it again (``exists``)."""
    db.lock_key(conn, f"pp/rates/{row.insurer_id}")  # two rows added at once never overlap
    known = list_rates(conn, [row.insurer_id])
    same = next((r for r in known if r.id == row.id), None)
    if same is not None:
        for name in _FIELDS:
            if getattr(same, name) != getattr(row, name):
                raise IdReusedError("rate row", f"{row.insurer_id}/{row.id}", name)
        return "exists"
    if find_member(conn, row.insurer_id).kind is not MemberKind.INSURER:
        raise ValidationError(f"{row.insurer_id} is not an insurer")
    check_no_overlap(row, known)
    conn.execute(insert(_R).values(
        insurer_id=row.insurer_id, id=row.id, term_from=row.term_from, term_to=row.term_to,
        insured_from=row.insured_from, insured_to=row.insured_to,
        holder_kind=None if row.holder_kind is None else row.holder_kind.value,
        rate_bp=row.rate_bp, created_at=to_micros(at), format_version=FORMAT_VERSION))
    return "created"


def list_rates(conn: Connection, insurers: Iterable[str] | None = None) -> list[RateRow]:
    """The rows of the insurers named (all without), by insurer, term and sum insured."""
    query = select(_R).order_by(_R.c.insurer_id, _R.c.term_from, _R.c.insured_from, _R.c.id)
    if insurers is not None:
        query = query.where(_R.c.insurer_id.in_(sorted(set(insurers))))
    return [_row(r) for r in conn.execute(query)]


def _row(r: Any) -> RateRow:
    kind = None if r.holder_kind is None else HolderKind(r.holder_kind)
    return RateRow(r.insurer_id, r.id, r.term_from, r.term_to, r.insured_from, r.insured_to,
                   r.rate_bp, kind)
