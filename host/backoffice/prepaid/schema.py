"""The prepaid tables (``pp_*``), in their own metadata beside the ledger's: the programs,
the network accounts and their sub-cards with live principal and bonus, the policies, the
live record of every movement per card (F15), the requests answered (idempotency) and the
claims. Money itself is only ever in the ledger; these tables say what it means.
Times are integer microseconds (UTC), amounts BIGINT in fen, as in the ledger's tables."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from host.backoffice.database import Database, add_missing_columns
from host.backoffice.schema import ID_TYPE as _Id
from host.backoffice.schema import SEQ_TYPE as _Seq
from host.backoffice.schema import version_column

__all__ = ["create_prepaid_schema", "has_prepaid_schema", "pp_accounts", "pp_cards",
           "pp_claim_lines", "pp_claims", "pp_movements", "pp_policies", "pp_programs",
           "pp_rates", "pp_requests", "prepaid_metadata"]

#: version of the row layout written by this code
FORMAT_VERSION = 1

prepaid_metadata = MetaData()
_Member = String(64)


def _version() -> Column:
    return version_column(FORMAT_VERSION)  # the prepaid tables' own layout version


pp_programs = Table(
    "pp_programs", prepaid_metadata,
    Column("id", _Member, primary_key=True),
    Column("number", Integer, nullable=False, unique=True),  # the card numbers' prefix
    Column("merchant_id", _Member, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("card_cap", BigInteger, nullable=False),
    Column("insurer_id", _Member, nullable=False),
    Column("premium_bp", Integer, nullable=False),
    Column("bonus_bp", Integer, nullable=False),
    Column("discount_bp", Integer, nullable=False),
    Column("uses", Integer, nullable=False),
    Column("term_days", Integer, nullable=False),
    Column("valid_days", Integer, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("anonymous_cap", BigInteger, nullable=True),  # null: the default (see Program)
    Column("next_seq", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)
Index("ix_pp_programs_merchant", pp_programs.c.merchant_id)

#: one network account per holder and program: the sub-cards under it act as one card
pp_accounts = Table(
    "pp_accounts", prepaid_metadata,
    Column("id", _Id, primary_key=True),
    Column("holder_id", _Member, nullable=False),
    Column("program_id", _Member, nullable=False),
    Column("merchant_id", _Member, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

pp_cards = Table(
    "pp_cards", prepaid_metadata,
    Column("card_no", String(19), primary_key=True),
    Column("account_id", _Id, nullable=False),
    Column("program_id", _Member, nullable=False),
    Column("merchant_id", _Member, nullable=False),
    Column("holder_id", _Member, nullable=False),
    Column("purchase_id", _Id, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("principal_paid", BigInteger, nullable=False),
    Column("bonus_given", BigInteger, nullable=False),
    Column("principal_left", BigInteger, nullable=False),
    Column("bonus_left", BigInteger, nullable=False),
    Column("use_price", BigInteger, nullable=True),  # a count card: the price of one use
    Column("expires_at", BigInteger, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # active, frozen, expired, claimed
    Column("issued_at", BigInteger, nullable=False),
    Column("holder_kind", String(16), nullable=True),  # registered (or null), anonymous
    _version(),
)
Index("ix_pp_cards_account", pp_cards.c.account_id)
Index("ix_pp_cards_merchant", pp_cards.c.merchant_id, pp_cards.c.status)

pp_policies = Table(
    "pp_policies", prepaid_metadata,
    Column("id", _Id, primary_key=True),
    Column("card_no", String(19), nullable=False, unique=True),
    Column("insurer_id", _Member, nullable=False),
    Column("merchant_id", _Member, nullable=False),
    Column("holder_id", _Member, nullable=False),
    Column("sum_insured", BigInteger, nullable=False),
    Column("premium", BigInteger, nullable=False),
    Column("rate_bp", Integer, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("rate_row", _Id, nullable=True),  # the insurer's rate row; null: the program's rate
    _version(),
)
Index("ix_pp_policies_merchant", pp_policies.c.merchant_id)
Index("ix_pp_policies_holder", pp_policies.c.holder_id)
Index("ix_pp_policies_insurer", pp_policies.c.insurer_id)

#: an insurer's premium rate table: one yearly rate per band of term, sum insured and holder
#: kind (null: either); an insurer's rows never overlap, so one row prices a policy
pp_rates = Table(
    "pp_rates", prepaid_metadata,
    Column("insurer_id", _Member, primary_key=True),
    Column("id", _Member, primary_key=True),
    Column("term_from", Integer, nullable=False),  # days, inclusive
    Column("term_to", Integer, nullable=False),
    Column("insured_from", BigInteger, nullable=False),  # fen, inclusive
    Column("insured_to", BigInteger, nullable=False),
    Column("holder_kind", String(16), nullable=True),
    Column("rate_bp", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: F15: every movement of every card, with the live balance right after it
pp_movements = Table(
    "pp_movements", prepaid_metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("card_no", String(19), nullable=False),
    Column("kind", String(16), nullable=False),  # issue, pay, refund, expire, claim
    Column("request_id", _Id, nullable=False),
    Column("principal_delta", BigInteger, nullable=False),
    Column("bonus_delta", BigInteger, nullable=False),
    Column("principal_after", BigInteger, nullable=False),
    Column("bonus_after", BigInteger, nullable=False),
    Column("transfer_id", _Id, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)
Index("ix_pp_movements_card", pp_movements.c.card_no, pp_movements.c.seq)
Index("ix_pp_movements_request", pp_movements.c.request_id)

#: every request answered, by kind and client id: a retry gets the first answer
pp_requests = Table(
    "pp_requests", prepaid_metadata,
    Column("id", _Id, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

pp_claims = Table(
    "pp_claims", prepaid_metadata,
    Column("id", _Id, primary_key=True),
    Column("merchant_id", _Member, nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("trigger_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open, approved, rejected, paid
    Column("note", Text, nullable=False),
    Column("opened_at", BigInteger, nullable=False),
    Column("reviewed_at", BigInteger, nullable=True),
    Column("paid_at", BigInteger, nullable=True),
    _version(),
)

#: one line per card; a card is in one claim at most, ever
pp_claim_lines = Table(
    "pp_claim_lines", prepaid_metadata,
    Column("card_no", String(19), primary_key=True),
    Column("claim_id", _Id, nullable=False),
    Column("policy_id", _Id, nullable=True),
    Column("holder_id", _Member, nullable=False),
    Column("insurer_id", _Member, nullable=False),
    Column("principal", BigInteger, nullable=False),
    Column("bonus", BigInteger, nullable=False),
    Column("payout", BigInteger, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("hold_id", _Id, nullable=True),
    _version(),
)
Index("ix_pp_claim_lines_claim", pp_claim_lines.c.claim_id)


#: columns added after the first layout: a database made before gains them (nullable)
_ADDED_COLUMNS = (pp_programs.c.anonymous_cap, pp_cards.c.holder_kind, pp_policies.c.rate_row)


#: the name the prepaid tables go by in :attr:`Database.up_to_date`
PART = "prepaid"


def create_prepaid_schema(db: Database) -> None:
    """Create the prepaid tables that do not exist yet, and the columns added since a
    database was made (idempotent); the ledger's must exist."""
    with db.schema_change() as conn:
        prepaid_metadata.create_all(conn)
        add_missing_columns(conn, _ADDED_COLUMNS)
    db.up_to_date.add(PART)


def has_prepaid_schema(db: Database) -> bool:
    with db.engine.connect() as conn:
        return conn.dialect.has_table(conn, "pp_programs")
