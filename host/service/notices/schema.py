"""The dispatcher's tables, in the back office's database beside the outbox it reads.

``bo_outbox`` (the back office's) holds each notice once. Each notice goes out on one or
more channels; each (notice, channel) is a delivery row here, with its own state, attempts
and lease. A dispatcher claims a row by writing its name and a lease expiry on it; a lease
left by a dispatcher that died expires, and the row is claimed again (at least once).
"""

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
    UniqueConstraint,
)

from host.backoffice.database import Database
from host.backoffice.schema import SEQ_TYPE as _Seq
from host.backoffice.schema import version_column as _version
from host.service.schema import svc_kek

__all__ = ["create_notices_schema", "notices_metadata", "svc_inbox", "svc_notice_addresses",
           "svc_notice_deliveries", "svc_webhooks"]

notices_metadata = MetaData()


#: One row per notice and channel. Times are microseconds since the epoch. ``lease_owner``
#: and ``lease_until`` are set while a dispatcher is delivering it.
svc_notice_deliveries = Table(
    "svc_notice_deliveries",
    notices_metadata,
    Column("id", _Seq, primary_key=True, autoincrement=True),
    Column("notice_seq", BigInteger, nullable=False),  # bo_outbox.seq
    Column("channel", String(16), nullable=False),
    Column("recipient_id", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_at", BigInteger, nullable=False),
    Column("lease_owner", String(96), nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    _version(),
    UniqueConstraint("notice_seq", "channel", name="uq_svc_notice_deliveries_channel"),
    Index("ix_svc_notice_deliveries_due", "state", "next_at"),
)

#: The inbox the portal reads: a notice delivered to its recipient, ``read_at`` set when
#: it was first shown (shown once).
svc_inbox = Table(
    "svc_inbox",
    notices_metadata,
    Column("notice_seq", BigInteger, primary_key=True),
    Column("recipient_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=False),
    Column("read_at", BigInteger, nullable=True),
    _version(),
    Index("ix_svc_inbox_recipient", "recipient_id", "notice_seq"),
)

#: A merchant's webhook: where notices are posted and the secret they are signed with
#: (the dispatcher needs the secret itself to sign, as the merchant does to verify),
#: wrapped under the database's KEK once ``svc_kek`` names one (:mod:`host.service.kek`).
svc_webhooks = Table(
    "svc_webhooks",
    notices_metadata,
    Column("merchant_id", String(64), primary_key=True),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    _version(),
)

#: A member's e-mail address on file, where its notices are mailed.
svc_notice_addresses = Table(
    "svc_notice_addresses",
    notices_metadata,
    Column("member_id", String(64), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    _version(),
)


def create_notices_schema(db: Database) -> None:
    """Create the dispatcher's tables that do not exist yet (idempotent), and the service's
    record of the KEK the webhook secrets are wrapped under (``svc_kek``)."""
    with db.schema_change() as conn:
        notices_metadata.create_all(conn)
        svc_kek.create(conn, checkfirst=True)
