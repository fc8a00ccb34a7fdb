"""The settlement centre's tables, on the back office's one metadata (``sc_*``): holders and
their tier settings, top-up requests, escrowed orders and their events, billers and bills,
vouchers, payroll batches, budgets. Money itself lives only in the ledger; these rows say
why it moved and what is still owed to happen. Times are microseconds, amounts fen."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from host.backoffice.schema import ID_TYPE as _Id
from host.backoffice.schema import metadata
from host.backoffice.schema import version_column as _version

__all__ = [
    "sc_billers",
    "sc_bills",
    "sc_budgets",
    "sc_employees",
    "sc_holders",
    "sc_order_events",
    "sc_orders",
    "sc_payroll_batches",
    "sc_topups",
    "sc_vouchers",
]



sc_holders = Table(
    "sc_holders",
    metadata,
    Column("holder_id", String(64), primary_key=True),
    Column("cap", BigInteger, nullable=False),
    Column("threshold", BigInteger, nullable=False),
    Column("bank_account", String(64), nullable=False),
    Column("addresses", Text, nullable=False),  # JSON list of delivery addresses on file
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: One row per top-up asked of the bank; ``requested`` rows are pending (their ledger hold
#: counts against the cap) until the bank's answer posts or voids the hold.
sc_topups = Table(
    "sc_topups",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("holder_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # requested / completed / failed
    Column("origin", String(16), nullable=False),  # auto / manual
    Column("bank_reference", String(128), nullable=True),
    Column("failure", Text, nullable=True),
    Column("requested_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger, nullable=True),
    _version(),
)
Index("ix_sc_topups_holder_state", sc_topups.c.holder_id, sc_topups.c.state)

sc_orders = Table(
    "sc_orders",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("holder_id", String(64), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("released", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # held / released / voided / expired
    Column("condition", String(16), nullable=False),  # acceptance / date / code
    Column("release_at", BigInteger, nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("code_salt", LargeBinary(16), nullable=True),
    Column("code_digest", LargeBinary(32), nullable=True),
    Column("code_tries", Integer, nullable=False),
    Column("hold_id", _Id, nullable=False),  # the ledger hold carrying what is still held
    Column("hold_seq", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("address", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("closed_at", BigInteger, nullable=True),
    _version(),
)
Index("ix_sc_orders_due", sc_orders.c.state, sc_orders.c.release_at)

#: Every request made of an order, by its client id: a repeat answers the first outcome.
sc_order_events = Table(
    "sc_order_events",
    metadata,
    Column("request_id", _Id, primary_key=True),
    Column("order_id", _Id, nullable=False),
    Column("kind", String(16), nullable=False),  # release / void / code_wrong / expire
    Column("amount", BigInteger, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)
Index("ix_sc_order_events_order", sc_order_events.c.order_id)

sc_billers = Table(
    "sc_billers",
    metadata,
    Column("id", String(64), primary_key=True),  # a merchant member that issues bills
    Column("category", String(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

sc_bills = Table(
    "sc_bills",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("biller_id", String(64), nullable=False),
    Column("number", String(64), nullable=False),  # the customer's account number there
    Column("period", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("paid_by", String(64), nullable=True),
    Column("transfer_id", _Id, nullable=True),
    Column("paid_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    _version(),
    UniqueConstraint("biller_id", "number", "period", name="ux_sc_bills_period"),
)

sc_vouchers = Table(
    "sc_vouchers",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),  # SHA-256 of the code
    Column("amount", BigInteger, nullable=False),
    Column("used_by", String(64), nullable=True),
    Column("transfer_id", _Id, nullable=True),
    Column("used_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

sc_employees = Table(
    "sc_employees",
    metadata,
    Column("employer_id", String(64), primary_key=True),
    Column("employee_no", String(64), primary_key=True),
    Column("holder_id", String(64), nullable=False),
    _version(),
)

sc_payroll_batches = Table(
    "sc_payroll_batches",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("employer_id", String(64), nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("lines", Integer, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

sc_budgets = Table(
    "sc_budgets",
    metadata,
    Column("holder_id", String(64), primary_key=True),
    Column("category", String(32), primary_key=True),
    Column("monthly", BigInteger, nullable=False),
    _version(),
)
