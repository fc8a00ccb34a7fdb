"""The issuer's own record of its online answers: the ground truth a sale is held against.

A terminal's payment record is a claim. Its ARQC proves the card asked for the amount the
CDOL1 data carries, and its final cryptogram (TC or AAC) proves how the card finished; what
proves that the *issuer* approved is the issuer's own memory of its answer, written here at
the moment it answered (:func:`record_authorisation`), keyed by the ARQC it verified. A swiped
stripe has no cryptogram at all: its approval record, under an id the issuer chose, is the
only proof that sale happened.

Rows are append-only; an ARQC is answered once (a second authorisation of the same ARQC, a
replay, finds the first answer and is refused by :class:`DuplicateAuthorisationError`).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row

from apdu_specs.errors import RemoteError
from host.backoffice.clock import to_micros
from host.backoffice.database import Database, on_driver
from host.backoffice.errors import BackOfficeError
from host.backoffice.schema import FORMAT_VERSION, bo_authorisations

__all__ = [
    "AUTH_COLUMNS",
    "Authorisation",
    "DuplicateAuthorisationError",
    "authorisation_by_arqc",
    "authorisation_by_id",
    "authorisation_from_row",
    "new_authorisation_id",
    "record_authorisation",
]

CHIP = "chip"
STRIPE = "stripe"
APPROVE = "approve"


class DuplicateAuthorisationError(BackOfficeError, RemoteError):
    """An ARQC the issuer has answered before: a replayed authorisation request (the
    issuer's refusal of what a terminal sent, so a :class:`RemoteError`)."""


@dataclass(frozen=True, slots=True)
class Authorisation:
    """One answer of the issuer, as it recorded it."""

    id: str
    kind: str  #: "chip" or "stripe"
    arqc: bytes | None
    card_id: str | None  #: the card as the terminal named it (the ARQC proves the PAN)
    application: str  #: "debit", "credit" or "stripe"
    amount: int  #: covered by the ARQC (chip), as authorised (stripe)
    currency: int
    decision: str  #: "approve", "decline" or "referral"
    reason: str
    issuer_id: str  #: the bank that answered
    merchant_id: str | None  #: the merchant whose terminal asked
    terminal_id: str | None

    @property
    def approved(self) -> bool:
        return self.decision == APPROVE


def new_authorisation_id(kind: str) -> str:
    """An id no terminal can predict or choose (the stripe approval code a load cites): 64
    random bits. The time in milliseconds goes first (12 hex digits) so that ids made one
    after another sort together: the record, its hold and the hold's open row then land
    beside the previous ones in their indexes, not each on a random page of it, and a
    group commit writes a third fewer pages (D60)."""
    return f"auth-{kind}-{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}"


def record_authorisation(db: Database, auth: Authorisation, *, at: datetime) -> Authorisation:
    """Store ``auth``; :class:`DuplicateAuthorisationError` if its ARQC was answered before.

    A repeated ARQC writes nothing (``ON CONFLICT (arqc) DO NOTHING``) and its error leaves
    the transaction as it was, so the write joins an enclosing one without a savepoint of
    its own (``alone=False``): a caller that goes on after the error (the service answering
    a repeat from the original's record) finds nothing to undo."""
    # lost in a power cut, it only refuses points
    with db.write(flush=False, alone=False) as conn:
        taken = on_driver(conn, _INSERT, (
            auth.id, auth.kind, auth.arqc, auth.card_id, auth.application, auth.amount,
            auth.currency, auth.decision, auth.reason, auth.issuer_id, auth.merchant_id,
            auth.terminal_id, to_micros(at), FORMAT_VERSION)).rowcount == 1
    if not taken:
        raise DuplicateAuthorisationError(
            f"the issuer answered this ARQC before (authorisation {auth.id} not recorded)")
    return auth


#: the columns :func:`authorisation_from_row` reads, in its order
AUTH_COLUMNS = ("id", "kind", "arqc", "card_id", "application", "amount", "currency",
                "decision", "reason", "issuer_id", "merchant_id", "terminal_id")


def authorisation_from_row(row: Row | tuple) -> Authorisation:  # type: ignore[type-arg]
    """An :class:`Authorisation` from a row of :data:`AUTH_COLUMNS`."""
    values = tuple(row)
    arqc = values[2]
    return Authorisation(values[0], values[1], None if arqc is None else bytes(arqc),
                         *values[3:])


def authorisation_by_arqc(conn: Connection, arqc: bytes) -> Authorisation | None:
    """The issuer's answer to this ARQC, if it ever gave one."""
    return _one(conn, _BY_ARQC, arqc)


def authorisation_by_id(conn: Connection, auth_id: str) -> Authorisation | None:
    """The issuer's answer recorded under ``auth_id`` (a stripe approval code), if any."""
    return _one(conn, _BY_ID, auth_id)


def _one(conn: Connection, statement: str, key: object) -> Authorisation | None:
    row = on_driver(conn, statement, (key,)).first()
    return None if row is None else authorisation_from_row(row)


# Plain SQL on the driver (:func:`on_driver`): every online sale and load asks them.
_TABLE = bo_authorisations.name
_INSERT = (f"INSERT INTO {_TABLE} ({', '.join(AUTH_COLUMNS)}, ts, format_version) "
           f"VALUES ({', '.join(['?'] * (len(AUTH_COLUMNS) + 2))}) "
           "ON CONFLICT (arqc) DO NOTHING")
_SELECT = f"SELECT {', '.join(AUTH_COLUMNS)} FROM {_TABLE}"
_BY_ARQC = f"{_SELECT} WHERE arqc = ?"
_BY_ID = f"{_SELECT} WHERE id = ?"
