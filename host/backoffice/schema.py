"""The database tables of the back office (SQLAlchemy Core), one metadata for both SQLite
and PostgreSQL. Every table carries ``format_version`` so a later release can tell how a row
was written. Times are integer microseconds since the epoch (UTC); amounts are BIGINT.

``ledger_*`` tables are the double-entry ledger; ``bo_*`` tables are the alliance's business
(members, agreements, clearing, settlement, credit, messages). Transfers and card records are
append-only; ``ledger_accounts`` holds the running balances updated in the same transaction
as each insert; ``ledger_open_holds`` is a work index of holds that can still expire.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "ADDED_COLUMNS",
    "FORMAT_VERSION",
    "ID_TYPE",
    "SEQ_TYPE",
    "bo_agreements",
    "bo_authorisations",
    "bo_batch_rejections",
    "bo_batches",
    "bo_card_records",
    "bo_credit_changes",
    "bo_delivery_addresses",
    "bo_issuer_scripts",
    "bo_load_grants",
    "bo_members",
    "bo_outbox",
    "bo_settings",
    "bo_settled_days",
    "bo_settlements",
    "bo_terminals",
    "ledger_accounts",
    "ledger_bound_changes",
    "ledger_open_holds",
    "ledger_transfers",
    "metadata",
    "version_column",
]

#: Version of the row layout written by this code (2: card records keep what nobody proves
#: apart, in ``claimed``, and a payment's final cryptogram; issuer authorisations; load grants).
FORMAT_VERSION = 2

metadata = MetaData()

#: the column types and the version column every table of the project uses (the back
#: office's, the service's, the prepaid part's, the settlement centre's): defined once here
ID_TYPE = String(128)
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER


def version_column(version: int = FORMAT_VERSION) -> Column:
    """The row's ``format_version``: the layout version of the code that wrote it (the back
    office's :data:`FORMAT_VERSION`, or a part's own)."""
    return Column("format_version", SmallInteger, nullable=False, default=version)


_Id, _Seq, _version = ID_TYPE, SEQ_TYPE, version_column


ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("asset", String(32), nullable=False),
    Column("owner_id", String(64), nullable=True),
    Column("role", String(64), nullable=False),
    Column("lower_bound", BigInteger, nullable=True),
    Column("upper_bound", BigInteger, nullable=True),
    Column("debits_posted", BigInteger, nullable=False, default=0),
    Column("credits_posted", BigInteger, nullable=False, default=0),
    Column("debits_pending", BigInteger, nullable=False, default=0),
    Column("credits_pending", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)
Index("ix_ledger_accounts_owner", ledger_accounts.c.owner_id)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("id", _Id, nullable=False, unique=True),
    Column("kind", String(8), nullable=False),
    Column("debit_account", _Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account", _Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("asset", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("posted_amount", BigInteger, nullable=False),  # effect on *_posted
    Column("pending_delta", BigInteger, nullable=False),  # effect on *_pending (signed)
    Column("pending_id", _Id, nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("reason", String(32), nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("source_id", _Id, nullable=False),
    Column("correlation_id", _Id, nullable=True),
    Column("details", Text, nullable=True),
    Column("linked", Boolean, nullable=False),
    Column("ts", BigInteger, nullable=False),
    # Balances of both accounts right after this transfer: the original result of a retry.
    Column("dr_debits_posted", BigInteger, nullable=False),
    Column("dr_credits_posted", BigInteger, nullable=False),
    Column("dr_debits_pending", BigInteger, nullable=False),
    Column("dr_credits_pending", BigInteger, nullable=False),
    Column("cr_debits_posted", BigInteger, nullable=False),
    Column("cr_credits_posted", BigInteger, nullable=False),
    Column("cr_debits_pending", BigInteger, nullable=False),
    Column("cr_credits_pending", BigInteger, nullable=False),
    _version(),
)
# A hold resolves once: at most one post/void/expire names a given pending transfer.
Index(
    "ux_ledger_transfers_pending_id",
    ledger_transfers.c.pending_id,
    unique=True,
    sqlite_where=ledger_transfers.c.pending_id.isnot(None),
    postgresql_where=ledger_transfers.c.pending_id.isnot(None),
)
Index("ix_ledger_transfers_debit", ledger_transfers.c.debit_account, ledger_transfers.c.ts)
Index("ix_ledger_transfers_credit", ledger_transfers.c.credit_account, ledger_transfers.c.ts)
Index("ix_ledger_transfers_correlation", ledger_transfers.c.correlation_id)

ledger_open_holds = Table(
    "ledger_open_holds",
    metadata,
    Column("transfer_id", _Id, primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
    _version(),
)
Index("ix_ledger_open_holds_expires", ledger_open_holds.c.expires_at)

ledger_bound_changes = Table(
    "ledger_bound_changes",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("account_id", _Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("old_lower", BigInteger, nullable=True),
    Column("new_lower", BigInteger, nullable=True),
    Column("old_upper", BigInteger, nullable=True),
    Column("new_upper", BigInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_settings = Table(
    "bo_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    _version(),
)

bo_members = Table(
    "bo_members",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("card_id", String(64), nullable=True, unique=True),
    Column("pan_token", String(64), nullable=True, unique=True),
    Column("consumer_group", String(64), nullable=True),
    Column("two_way_num", BigInteger, nullable=True),
    Column("two_way_den", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: A consumer's delivery address on file (one per holder), what an order's address is
#: checked against (:mod:`host.backoffice.addresses`).
bo_delivery_addresses = Table(
    "bo_delivery_addresses",
    metadata,
    Column("member_id", String(64), ForeignKey("bo_members.id"), primary_key=True),
    Column("street", Text, nullable=False),
    Column("city", Text, nullable=False),
    Column("postcode", String(16), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    _version(),
)

#: A member's terminals, each ``active`` or ``blocked`` (:mod:`host.backoffice.terminals`),
#: with who last changed that, when and why (NULL until the first change).
bo_terminals = Table(
    "bo_terminals",
    metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("merchant_id", String(64), ForeignKey("bo_members.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("status_by", String(64), nullable=True),
    Column("status_at", BigInteger, nullable=True),
    Column("status_reason", Text, nullable=True),
)

bo_agreements = Table(
    "bo_agreements",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("issuer_id", String(64), ForeignKey("bo_members.id"), nullable=False),
    Column("consumer_group", String(64), nullable=False),
    Column("asset", String(32), nullable=False),
    Column("points_num", BigInteger, nullable=False),
    Column("per_fen", BigInteger, nullable=False),
    Column("rounding", String(16), nullable=False),
    Column("valid_from", BigInteger, nullable=False),
    Column("valid_to", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)
Index("ix_bo_agreements_lookup", bo_agreements.c.issuer_id, bo_agreements.c.consumer_group)

bo_batches = Table(
    "bo_batches",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("terminal_id", String(32), nullable=False),
    Column("merchant_id", String(64), nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("business_day", String(10), nullable=False),
    Column("summary", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_batch_rejections = Table(
    "bo_batch_rejections",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("batch_id", _Id, nullable=False),
    # the terminal the batch named (bound to the sender by the service host's door): a
    # refusal is shown only to the terminal whose batch it was
    Column("terminal_id", String(32), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_card_records = Table(
    "bo_card_records",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("batch_id", _Id, ForeignKey("bo_batches.id"), nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("card_id", String(64), nullable=False),
    Column("purse", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("txn_key", String(64), nullable=False),
    Column("terminal_id", String(32), nullable=False),
    Column("card_time", String(14), nullable=False),
    # What the MAC covers beyond the columns above, so any record can be proved again:
    # chip 2: the card's online sequence and the balance after a load, the terminal's
    # sequence of a purchase; chip 1: the ATC (card_seq), CDOL1 data || AIP (mac_data) and
    # the IAD (mac_extra) of the first cryptogram, CDOL2 data (final_mac_data) and the IAD
    # (final_mac_extra) of the final one. A column no MAC covers for this record is NULL.
    Column("card_seq", Integer, nullable=True),
    Column("balance_after", BigInteger, nullable=True),
    Column("terminal_seq", BigInteger, nullable=True),
    Column("mac_data", LargeBinary, nullable=True),
    Column("mac_extra", LargeBinary, nullable=True),
    Column("mac", LargeBinary(16), nullable=False),
    Column("final_mac", LargeBinary(16), nullable=True),
    Column("final_mac_data", LargeBinary, nullable=True),
    Column("final_mac_extra", LargeBinary, nullable=True),
    Column("mac_verified", Boolean, nullable=False),
    # Fields the terminal sent that no MAC covers, kept as it said them (JSON): never read
    # by a decision (docs/trust.md).
    Column("claimed", Text, nullable=True),
    # A load: the sale it rewards, per purse ("earn:<purse>:<sale key>"); one load per sale
    # and purse, ever.
    Column("sale_key", String(96), nullable=True),
    Column("transfer_id", _Id, nullable=True),
    _version(),
    UniqueConstraint("batch_id", "record_id", name="ux_bo_card_records_batch_record"),
    # The same card transaction presented in two batches is caught here.
    UniqueConstraint("card_id", "txn_key", name="ux_bo_card_records_card_txn"),
    UniqueConstraint("card_id", "sale_key", name="ux_bo_card_records_card_sale"),
)

#: The issuer's own record of every online authorisation it answered: what a terminal's
#: word about a sale is held against (an ARQC the issuer never approved earns nothing).
bo_authorisations = Table(
    "bo_authorisations",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("kind", String(16), nullable=False),  # "chip" or "stripe"
    Column("arqc", LargeBinary(16), nullable=True, unique=True),
    Column("card_id", String(64), nullable=True),  # as the terminal named the card
    Column("application", String(16), nullable=False),  # debit / credit / stripe
    Column("amount", BigInteger, nullable=False),  # covered by the ARQC (chip)
    Column("currency", Integer, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("issuer_id", String(64), nullable=False),
    Column("merchant_id", String(64), nullable=True),
    Column("terminal_id", String(32), nullable=True),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

#: Loads the points issuer signed (MAC2), one per sale and purse: the load authoriser's
#: memory, so a terminal cannot have a sale rewarded twice on the card.
bo_load_grants = Table(
    "bo_load_grants",
    metadata,
    Column("card_id", String(64), primary_key=True),
    Column("sale_key", String(96), primary_key=True),
    Column("purse", String(32), primary_key=True),
    Column("online_seq", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_settled_days = Table(
    "bo_settled_days",
    metadata,
    Column("business_day", String(10), primary_key=True),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_settlements = Table(
    "bo_settlements",
    metadata,
    Column("business_day", String(10), primary_key=True),
    Column("merchant_id", String(64), primary_key=True),
    Column("points_issued", BigInteger, nullable=False),
    Column("points_redeemed", BigInteger, nullable=False),
    Column("funding_fen", BigInteger, nullable=False),
    Column("payout_fen", BigInteger, nullable=False),
    Column("net_fen", BigInteger, nullable=False),
    Column("transfer_id", _Id, nullable=True),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_credit_changes = Table(
    "bo_credit_changes",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("member_id", String(64), ForeignKey("bo_members.id"), nullable=False),
    Column("account_id", _Id, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("old_limit", BigInteger, nullable=False),
    Column("new_limit", BigInteger, nullable=False),
    Column("rule", String(64), nullable=False),
    Column("explanation", Text, nullable=False),
    Column("ts", BigInteger, nullable=False),
    _version(),
)

bo_issuer_scripts = Table(
    "bo_issuer_scripts",
    metadata,
    Column("id", _Id, primary_key=True),
    Column("card_id", String(64), nullable=False),
    Column("change_seq", BigInteger, nullable=False),
    Column("new_limit", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    _version(),
)
Index("ix_bo_issuer_scripts_card", bo_issuer_scripts.c.card_id)

bo_outbox = Table(
    "bo_outbox",
    metadata,
    Column("seq", _Seq, primary_key=True, autoincrement=True),
    Column("dedup_key", _Id, nullable=False, unique=True),
    Column("recipient_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    _version(),
)
Index("ix_bo_outbox_undelivered", bo_outbox.c.delivered_at, bo_outbox.c.seq)

#: Columns added to a table after databases were made with it, by table: creating the
#: schema adds those a database lacks (:meth:`~host.backoffice.database.Database.upgrade_schema`),
#: each nullable or with a default, so older rows stay valid.
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "bo_terminals": ("status", "status_by", "status_at", "status_reason"),
}

# The settlement centre's tables join the same metadata (imported last: they use it).
from host.backoffice.centre import tables as _centre_tables  # noqa: E402, F401
