"""The service host's tables, in the back office's database (SQLite or PostgreSQL).

They have their own metadata: the service creates them (:func:`create_service_schema`)
beside the back office's, which it does not own. State lives here and never only in a
process, so any number of service processes serve the same terminals against one
PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

from host.backoffice.database import Database
from host.backoffice.schema import version_column as _version

__all__ = ["create_service_schema", "service_metadata", "svc_advices",
           "svc_authorisations", "svc_idempotency", "svc_kek", "svc_pin_tries", "svc_seen_messages",
           "svc_terminal_keys", "svc_terminal_pin_keys"]

service_metadata = MetaData()


#: Each terminal's MAC key (AES-128), keyed by its terminal id; the merchant it belongs to
#: is the back office's record (``bo_terminals``), never a copy here. The key is wrapped
#: under the database's KEK (24 bytes, :mod:`.kek`) once ``svc_kek`` names one.
svc_terminal_keys = Table(
    "svc_terminal_keys",
    service_metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("mac_key", LargeBinary(24), nullable=False),
    Column("kcv", String(6), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: Requests seen, by terminal and STAN, kept while their DE 7 is inside the window: a
#: second request with a live STAN is a replay, unless it is a repeat (0101) of the same
#: request (``digest``: its bytes without MTI and MAC).
svc_seen_messages = Table(
    "svc_seen_messages",
    service_metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("stan", Integer, primary_key=True),
    Column("sent_at", BigInteger, nullable=False),  # DE 7, microseconds since the epoch
    Column("digest", LargeBinary(32), nullable=False),
    _version(),
)

#: HTTP requests by terminal and idempotency key: what the request was (``digest``: SHA-256
#: of its method, target and body) and, once answered, the answer (``status``, ``body``), so a
#: retry gets the same answer and the request is acted on once, whichever service process
#: the retry reaches. ``status`` is NULL while the request is being handled.
svc_idempotency = Table(
    "svc_idempotency",
    service_metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("idempotency_key", String(64), primary_key=True),
    Column("digest", LargeBinary(32), nullable=False),
    Column("status", SmallInteger, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at", BigInteger, nullable=False),  # microseconds since the epoch
    _version(),
    Index("svc_idempotency_created_at", "created_at"),
)

#: Every authorisation the ISO door answered, and every reversal, by the terminal, STAN and
#: DE 7 of the authorisation (kept for good: a reversal may come long after, from a
#: terminal's store-and-forward queue): the issuer's record and the ledger hold it posted
#: (``hold_id``), and when it was reversed. A reversal of an authorisation not seen yet
#: leaves a row without ``authorisation_id``, already reversed: the authorisation, if it
#: comes later, is refused and posts no hold (:mod:`.holds`).
svc_authorisations = Table(
    "svc_authorisations",
    service_metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("stan", Integer, primary_key=True),
    Column("sent_at", BigInteger, primary_key=True),  # DE 7, microseconds since the epoch
    Column("arqc", LargeBinary(8), nullable=True),
    Column("amount", BigInteger, nullable=True),
    Column("authorisation_id", String(64), nullable=True),
    Column("hold_id", String(128), nullable=True),
    Column("reversed_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: Advices (0220) taken, once each, by the terminal, STAN and DE 7 they carry: a sale the
#: card approved offline, or the outcomes of issuer scripts (``details``, JSON).
svc_advices = Table(
    "svc_advices",
    service_metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("stan", Integer, primary_key=True),
    Column("sent_at", BigInteger, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("details", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    _version(),
)


#: Each terminal's zone PIN key (2-key 3DES, odd parity): the key its online PIN blocks
#: (ISO 9564-1 format 0) are enciphered under (:mod:`host.service.pin_keys`).
svc_terminal_pin_keys = Table(
    "svc_terminal_pin_keys",
    service_metadata,
    Column("terminal_id", String(32), primary_key=True),
    Column("zpk", LargeBinary(24), nullable=False),  # wrapped as the MAC keys are
    Column("kcv", String(6), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: The key-encryption key the terminals' keys and the webhook secrets are wrapped under,
#: named by its check value (one row, ``id`` 1; no row: they are in clear; :mod:`.kek`).
svc_kek = Table(
    "svc_kek",
    service_metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("kcv", String(6), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    _version(),
)

#: Wrong online PINs in a row, per card (the authentication centre,
#: :mod:`host.service.auth_centre`): a right PIN sets ``failures`` back to 0, unless the
#: card reached the limit; then it stays blocked until an operator resets it.
svc_pin_tries = Table(
    "svc_pin_tries",
    service_metadata,
    Column("card_id", String(64), primary_key=True),
    Column("failures", SmallInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),  # microseconds since the epoch
    _version(),
)


def create_service_schema(db: Database) -> None:
    """Create the service's tables that do not exist yet, and give the back office's
    tables it reads the columns an older database lacks (a terminal's status), idempotent."""
    with db.schema_change() as conn:
        service_metadata.create_all(conn)
    db.upgrade_schema()
