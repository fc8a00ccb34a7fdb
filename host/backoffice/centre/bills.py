"""Bill payment (F23): billers (water, power, gas, phone) are merchant members registered
with a category; a biller issues a bill to a customer number for a period; a holder looks
bills up by biller and number and pays one from the virtual account, getting a receipt.
A bill is paid once: paying it again answers the same receipt to the holder who paid it and
is refused to anyone else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from host.backoffice.assets import Asset, check_amount
from host.backoffice.centre.categories import BILL_CATEGORIES
from host.backoffice.centre.errors import CentreRefusedError
from host.backoffice.centre.holders import Holder
from host.backoffice.centre.tables import sc_billers, sc_bills
from host.backoffice.clock import from_micros, to_micros
from host.backoffice.errors import IdReusedError, NotFoundError, ValidationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import MemberKind, Role, account_id, find_member
from host.backoffice.schema import FORMAT_VERSION
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["Bill", "issue_bill", "lookup_bills", "pay_bill", "register_biller"]


@dataclass(frozen=True, slots=True)
class Bill:
    id: str
    biller_id: str
    number: str
    period: str
    amount: int
    paid_by: str | None
    transfer_id: str | None
    paid_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Bill:
        return cls(row.id, row.biller_id, row.number, row.period, row.amount, row.paid_by,
                   row.transfer_id, None if row.paid_at is None else from_micros(row.paid_at))

    def as_dict(self) -> dict[str, Any]:
        return {"bill": self.id, "biller": self.biller_id, "number": self.number,
                "period": self.period, "amount": self.amount, "paid_by": self.paid_by,
                "receipt": self.transfer_id,
                "paid_at": self.paid_at.isoformat() if self.paid_at else None}


def register_biller(conn: Connection, biller_id: str, category: str, *, at: datetime) -> str:
    if category not in BILL_CATEGORIES:
        raise ValidationError(f"bill category must be one of {', '.join(BILL_CATEGORIES)}")
    if find_member(conn, biller_id).kind is not MemberKind.MERCHANT:
        raise ValidationError(f"{biller_id} is not a merchant")
    row = conn.execute(select(sc_billers).where(sc_billers.c.id == biller_id)).first()
    if row is not None:
        if row.category != category:
            raise IdReusedError("biller", biller_id, "category")
        return "exists"
    conn.execute(insert(sc_billers).values(id=biller_id, category=category,
                                           created_at=to_micros(at),
                                           format_version=FORMAT_VERSION))
    return "created"


def issue_bill(conn: Connection, biller_id: str, number: str, period: str, amount: int, *,
               at: datetime) -> Bill:
    _category(conn, biller_id)
    check_amount(amount, what="bill amount")
    if not number or not period:
        raise ValidationError("a bill needs a customer number and a period")
    bill_id = f"{biller_id}/{number}/{period}"
    row = conn.execute(select(sc_bills).where(sc_bills.c.id == bill_id)).first()
    if row is not None:
        if row.amount != amount:
            raise IdReusedError("bill", bill_id, "amount")
        return Bill.from_row(row)
    conn.execute(insert(sc_bills).values(id=bill_id, biller_id=biller_id, number=number,
                                         period=period, amount=amount,
                                         created_at=to_micros(at),
                                         format_version=FORMAT_VERSION))
    return Bill(bill_id, biller_id, number, period, amount, None, None, None)


def lookup_bills(conn: Connection, biller_id: str, number: str) -> list[Bill]:
    """Every bill of a customer number at a biller, oldest period first."""
    _category(conn, biller_id)
    query = select(sc_bills).where(sc_bills.c.biller_id == biller_id,
                                   sc_bills.c.number == number).order_by(sc_bills.c.period)
    return [Bill.from_row(r) for r in conn.execute(query)]


def pay_bill(conn: Connection, ledger: Ledger, holder: Holder, biller_id: str, number: str,
             period: str | None, *, at: datetime) -> tuple[Bill, str]:
    """Pay the given period's bill (default: the oldest unpaid); returns the receipt and
    ``created``/``exists``."""
    category = _category(conn, biller_id)
    bills = lookup_bills(conn, biller_id, number)
    chosen = [b for b in bills if b.period == period] if period else \
        [b for b in bills if b.paid_by is None][:1]
    if not chosen:
        raise NotFoundError(f"no unpaid bill of {biller_id} for number {number!r}"
                            + (f" in {period}" if period else ""))
    bill = chosen[0]
    if bill.paid_by is not None:
        if bill.paid_by != holder.holder_id:
            raise CentreRefusedError("bill_paid", f"bill {bill.id} is already paid")
        return bill, "exists"
    transfer_id = f"sc:bill:{bill.id}"
    plan = ledger.apply(conn, [Transfer.single(
        transfer_id, holder.virtual, account_id(biller_id, Role.CNY), bill.amount, Asset.CNY,
        Reason.BILL_PAYMENT, Source(SourceKind.MEMBER, holder.holder_id),
        details={"bill": bill.id, "category": category})], at=at)
    if not plan.ok:
        code = plan.results[0].code.value
        raise CentreRefusedError(code, f"bill {bill.id} not paid: {code}")
    conn.execute(update(sc_bills).where(sc_bills.c.id == bill.id).values(
        paid_by=holder.holder_id, transfer_id=transfer_id, paid_at=to_micros(at)))
    return Bill(bill.id, biller_id, number, bill.period, bill.amount, holder.holder_id,
                transfer_id, at), "created"


def _category(conn: Connection, biller_id: str) -> str:
    row = conn.execute(select(sc_billers).where(sc_billers.c.id == biller_id)).first()
    if row is None:
        raise NotFoundError(f"no biller {biller_id!r}")
    return str(row.category)
