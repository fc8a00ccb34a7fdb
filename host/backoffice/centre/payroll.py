"""Payroll (F23): an employer's batch credits its employees' virtual accounts.

A batch is all or nothing: every line is checked first (a positive amount, an employee the
employer registered, a line number used once) and one bad line refuses the whole batch with
its line named, nothing posted. A batch id is the idempotency key: the same batch again
answers ``exists``, the same id with other lines is refused; each line's transfer id is
``sc:payroll:<batch>:<line>``, so no line can ever be paid twice."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from host.backoffice.assets import MAX_AMOUNT, Asset
from host.backoffice.centre.tables import sc_employees, sc_holders, sc_payroll_batches
from host.backoffice.centre.tiers import EMPLOYERS_ACCOUNT, Tier, tier_account
from host.backoffice.clock import to_micros
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, find_member
from host.backoffice.schema import FORMAT_VERSION
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer, check_id

__all__ = ["PayrollLine", "PayrollResult", "register_employee", "run_payroll"]


@dataclass(frozen=True, slots=True)
class PayrollLine:
    line: int
    employee_no: str
    amount: int


@dataclass(frozen=True, slots=True)
class PayrollResult:
    batch_id: str
    status: str
    lines: int
    total: int

    def as_dict(self) -> dict[str, object]:
        return {"batch": self.batch_id, "status": self.status, "lines": self.lines,
                "total": self.total}


def register_employee(conn: Connection, employer_id: str, employee_no: str,
                      holder_id: str) -> str:
    if find_member(conn, employer_id).kind is MemberKind.CONSUMER:
        raise ValidationError(f"{employer_id} is a consumer, not an employer")
    if conn.execute(select(sc_holders.c.holder_id)
                    .where(sc_holders.c.holder_id == holder_id)).first() is None:
        raise NotFoundError(f"no settlement-centre holder {holder_id!r}")
    key = (sc_employees.c.employer_id == employer_id) & (sc_employees.c.employee_no == employee_no)
    row = conn.execute(select(sc_employees).where(key)).first()
    if row is not None:
        if row.holder_id != holder_id:
            raise IdReusedError("employee", f"{employer_id}/{employee_no}", "holder")
        return "exists"
    conn.execute(insert(sc_employees).values(employer_id=employer_id, employee_no=employee_no,
                                             holder_id=holder_id,
                                             format_version=FORMAT_VERSION))
    return "created"


def run_payroll(conn: Connection, ledger: Ledger, batch_id: str, employer_id: str,
                lines: Sequence[PayrollLine], *, at: datetime) -> PayrollResult:
    check_id(batch_id, "payroll batch id")
    digest = hashlib.sha256(json.dumps(
        [employer_id, [(x.line, x.employee_no, x.amount) for x in lines]]).encode()).digest()
    known = conn.execute(select(sc_payroll_batches)
                         .where(sc_payroll_batches.c.id == batch_id)).first()
    if known is not None:
        if known.digest != digest:
            raise IdReusedError("payroll batch", batch_id, "lines")
        return PayrollResult(batch_id, "exists", known.lines, known.total)
    holders = _check_lines(conn, employer_id, lines)
    source = Source(SourceKind.MEMBER, employer_id)
    details: dict[str, int | str] = {"employer": employer_id}
    transfers = [Transfer.single(
        f"sc:payroll:{batch_id}:{x.line}", EMPLOYERS_ACCOUNT, holders[x.employee_no],
        x.amount, Asset.CNY, Reason.PAYROLL, source, details=details) for x in lines]
    ledger.apply(conn, transfers, at=at, all_or_nothing=True, ids_are_new=True)
    total = sum(x.amount for x in lines)
    conn.execute(insert(sc_payroll_batches).values(
        id=batch_id, employer_id=employer_id, digest=digest, lines=len(lines), total=total,
        ts=to_micros(at), format_version=FORMAT_VERSION))
    return PayrollResult(batch_id, "created", len(lines), total)


def _check_lines(conn: Connection, employer_id: str,
                 lines: Sequence[PayrollLine]) -> dict[str, str]:
    """The virtual account of each employee named, after every line passed its checks."""
    if not lines:
        raise ValidationError("a payroll batch needs at least one line")
    query = select(sc_employees.c.employee_no, sc_employees.c.holder_id).where(
        sc_employees.c.employer_id == employer_id)
    holders = {no: tier_account(h, Tier.VIRTUAL) for no, h in conn.execute(query)}
    seen: set[int] = set()
    for x in lines:
        if type(x.amount) is not int or not 0 < x.amount <= MAX_AMOUNT:
            raise ValidationError(f"payroll line {x.line}: amount must be a positive integer "
                                  f"in fen, got {x.amount!r}")
        if x.employee_no not in holders:
            raise NotFoundError(f"payroll line {x.line}: {employer_id} has no employee "
                                f"{x.employee_no!r}")
        if x.line in seen:
            raise ValidationError(f"payroll line {x.line} appears twice")
        seen.add(x.line)
    return holders
