"""Authorisation holds, reversals and advices, in the database the service processes share.

When the issuer approves an authorisation that came through the ISO door, the service
posts a ledger hold (:meth:`AuthorisationHolds.hold`): a pending transfer of the amount
from the issuing bank's ``cny`` account to the merchant's, the issuer's promise to pay the
merchant for the sale. Both accounts are unbounded, so the hold never changes the
issuer's decision; it lapses after :data:`HOLD_LIFETIME` (the ledger expires it) unless a
reversal voids it first. ``svc_authorisations`` keeps, by terminal, STAN and DE 7, which
authorisation that was and which hold it posted.

A reversal (:meth:`AuthorisationHolds.reverse`) is matched by the terminal that sends it
(authenticated) and the STAN and DE 7 its DE 90 names:

- found, and the ARQC and amount are the ones authorised: the hold is voided, once; the
  same reversal again (or another naming the same authorisation) is answered the same and
  releases nothing more;
- found, but another ARQC or amount: refused (12), nothing changes;
- not found, and the issuer answered that ARQC to another terminal: refused (58, or 03
  when that terminal is another merchant's), nothing changes;
- not found otherwise: approved with nothing to do, as ISO practice answers a reversal of
  an unknown transaction. The service takes that authorisation's STAN in its stead
  (:data:`~.replay.REVERSED_FIRST`) and notes the reversal (a row already reversed,
  without authorisation), so an authorisation that arrives later under that STAN and DE 7
  is refused (68) at its STAN, before the issuer sees it (a repeat that finds its STAN
  its own asks :meth:`AuthorisationHolds.reversed_before`), and if it raced past that
  check, its hold is never posted: the row is taken by one writer only (``INSERT … ON
  CONFLICT DO NOTHING`` in the same transaction as the hold). Both take the STAN before
  the row, so the two racing never wait on each other.

Advices (:meth:`AuthorisationHolds.take_advice`) are taken once by terminal, STAN and DE 7.

A hold is written without waiting for the disk (``Database.write(flush=False)``), in the
transaction of the issuer's record of the approval (the service handles an authorisation
in one, :mod:`.core`): lost in a power cut, it goes with that record, and the approval
was never made as far as the service knows; a reversal of it is then answered with
nothing to release. Reversals and advices wait for the disk.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, text

from apdu_specs.errors import RemoteError
from host.backoffice.authorisations import Authorisation, authorisation_by_arqc
from host.backoffice.clock import to_micros
from host.backoffice.database import on_driver
from host.backoffice.members import Role, account_id
from host.backoffice.schema import FORMAT_VERSION
from host.backoffice.transfers import Source, SourceKind, Transfer
from host.records.assets import Asset

from .errors import ServiceError
from .iso8583 import ResponseCode
from .schema import svc_advices, svc_authorisations
from .services import AllianceServices
from .terminals import TerminalKey

__all__ = ["HOLD_LIFETIME", "AuthorisationHolds", "Reversal", "ReversalOutcome",
           "ReversalRefusedError"]

#: how long an authorisation's hold lasts unless reversed (the ledger expires it then)
HOLD_LIFETIME = dt.timedelta(days=7)

_TABLE = svc_authorisations.name
_KEY = "terminal_id = :terminal_id AND stan = :stan AND sent_at = :sent_at"
# on the driver (:func:`on_driver`): once or twice per authorisation; "?" in _KEY's order
_INSERT = (f"INSERT INTO {_TABLE} (terminal_id, stan, sent_at, arqc, amount, "
           "authorisation_id, hold_id, reversed_at, created_at, format_version) VALUES "
           "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
_ROW = (f"SELECT arqc, amount, authorisation_id, hold_id, reversed_at FROM {_TABLE} "
        "WHERE terminal_id = ? AND stan = ? AND sent_at = ?")
_REVERSE = text(f"UPDATE {_TABLE} SET reversed_at = :now WHERE {_KEY} AND reversed_at IS NULL")
_NO_HOLD = text(f"UPDATE {_TABLE} SET hold_id = NULL WHERE {_KEY}")
_ADVICE = text(f"INSERT INTO {svc_advices.name} (terminal_id, stan, sent_at, kind, details, "
               "received_at, format_version) VALUES (:terminal_id, :stan, :sent_at, :kind, "
               ":details, :now, :version) ON CONFLICT DO NOTHING")


class ReversalOutcome(StrEnum):
    REVERSED = "reversed"  #: the authorisation's hold was released now
    ALREADY_REVERSED = "already_reversed"  #: reversed before: nothing more released
    NOTHING_TO_REVERSE = "nothing_to_reverse"  #: no such authorisation (yet): noted


class ReversalRefusedError(ServiceError, RemoteError):
    """A reversal the service will not act on (``code``, DE 39): nothing changed."""

    def __init__(self, code: ResponseCode, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Reversal:
    """What a reversal asks: undo the authorisation ``terminal`` sent under ``stan`` and
    ``sent_at``, whose ARQC and amount it repeats."""

    terminal: TerminalKey
    stan: int
    sent_at: dt.datetime
    arqc: bytes | None
    amount: int


class AuthorisationHolds:
    """The holds of the service's authorisations, their reversals, and advices."""

    def __init__(self, services: AllianceServices, *,
                 lifetime: dt.timedelta = HOLD_LIFETIME) -> None:
        self.services = services
        self.lifetime = lifetime

    # -- authorisations ----------------------------------------------------------------------

    def reversed_before(self, terminal_id: str, stan: int, sent_at: dt.datetime) -> bool:
        """Whether a reversal of this request came first (refuse it: 68)."""
        with self.services.db.read() as conn:
            row = on_driver(conn, _ROW, _key_row(terminal_id, stan, sent_at)).first()
        return row is not None and row.reversed_at is not None

    def hold(self, terminal: TerminalKey, stan: int, sent_at: dt.datetime,
             record: Authorisation, *, now: dt.datetime) -> str | None:
        """Note the issuer's answer to this request (``record``, written in the caller's
        transaction or found there) and, if it approved, post its hold; the hold's id, or
        None (declined, or reversed before: nothing held)."""
        key = _key(terminal.terminal_id, stan, sent_at)
        # lost with the issuer's record, or not at all (see the module); no savepoint of
        # its own: an error here answers the request's code, its handling undone whole
        with self.services.db.write(flush=False, alone=False) as conn:
            hold_id = f"hold-{record.id}" if record.approved else None
            taken = on_driver(conn, _INSERT, (
                *key.values(), record.arqc, record.amount, record.id, hold_id, None,
                to_micros(now), FORMAT_VERSION)).rowcount == 1
            if not taken or hold_id is None:
                return None  # reversed before (or noted by a repeat): never held twice
            transfer = Transfer.hold(
                hold_id, account_id(self.services.bank_id, Role.CNY),
                account_id(terminal.merchant_id, Role.CNY), record.amount, Asset.CNY,
                Source(SourceKind.TERMINAL, terminal.terminal_id), expires_at=now + self.lifetime,
                details={"stan": stan, "authorisation": record.id})
            ledger = self.services.office.ledger  # the row was new, so is the hold's id
            if not ledger.apply(conn, [transfer], at=now, ids_are_new=True).ok:
                conn.execute(_NO_HOLD, key)  # no such account: the answer stands, unheld
                return None
        return hold_id

    # -- reversals -----------------------------------------------------------------------------

    def reverse(self, reversal: Reversal, *, now: dt.datetime,
                unseen: Callable[[], object] | None = None) -> ReversalOutcome:
        """Undo the authorisation ``reversal`` names (see the module for the rules).
        ``unseen`` is called in the same transaction when that authorisation is not (yet)
        known, before the reversal is noted (the service takes its STAN then: taking the
        STAN before the row, as an authorisation does, two racing never wait on each
        other)."""
        terminal = reversal.terminal
        key = _key(terminal.terminal_id, reversal.stan, reversal.sent_at)
        with self.services.db.write() as conn:
            row = on_driver(conn, _ROW, tuple(key.values())).first()
            if row is None:
                self._not_another_terminals(conn, reversal)
                if unseen is not None:
                    unseen()
                if on_driver(conn, _INSERT, (
                        *key.values(), reversal.arqc, reversal.amount, None, None,
                        to_micros(now), to_micros(now), FORMAT_VERSION)).rowcount == 1:
                    return ReversalOutcome.NOTHING_TO_REVERSE
                # its authorisation came meanwhile
                row = on_driver(conn, _ROW, tuple(key.values())).one()
            if (reversal.arqc not in (None, bytes(row.arqc or b""))
                    or reversal.amount != row.amount):
                raise ReversalRefusedError(ResponseCode.INVALID_TRANSACTION,
                                           "the reversal's ARQC or amount is not the "
                                           "authorisation's its DE 90 names")
            if conn.execute(_REVERSE, {**key, "now": to_micros(now)}).rowcount == 0:
                return ReversalOutcome.ALREADY_REVERSED
            if row.hold_id is not None:
                void = Transfer.void(f"void-{row.hold_id}", row.hold_id,
                                     Source(SourceKind.TERMINAL, terminal.terminal_id),
                                     details={"stan": reversal.stan})
                self.services.office.ledger.apply(conn, [void], at=now)  # expired: nothing
        return ReversalOutcome.REVERSED

    @staticmethod
    def _not_another_terminals(conn: Connection, reversal: Reversal) -> None:
        if reversal.arqc is None:
            return
        record = authorisation_by_arqc(conn, reversal.arqc)
        if record is None or record.terminal_id == reversal.terminal.terminal_id:
            return
        if record.merchant_id != reversal.terminal.merchant_id:
            raise ReversalRefusedError(ResponseCode.INVALID_MERCHANT,
                                       "the reversal names another merchant's authorisation")
        raise ReversalRefusedError(ResponseCode.TERMINAL_NOT_PERMITTED,
                                   "the reversal names another terminal's authorisation")

    # -- advices -------------------------------------------------------------------------------

    def take_advice(self, terminal_id: str, stan: int, sent_at: dt.datetime, kind: str,
                    details: dict[str, Any], *, now: dt.datetime) -> bool:
        """Keep an advice; False if it was taken before (a copy: nothing more to do)."""
        with self.services.db.write() as conn:
            return conn.execute(_ADVICE, {
                **_key(terminal_id, stan, sent_at), "kind": kind,
                "details": json.dumps(details, sort_keys=True), "now": to_micros(now),
                "version": FORMAT_VERSION}).rowcount == 1


def _key(terminal_id: str, stan: int, sent_at: dt.datetime) -> dict[str, Any]:
    """The row's key by name, in ``_KEY``'s order (its values are ``_ROW``'s marks)."""
    return {"terminal_id": terminal_id, "stan": stan, "sent_at": to_micros(sent_at)}


def _key_row(terminal_id: str, stan: int, sent_at: dt.datetime) -> tuple[Any, ...]:
    return tuple(_key(terminal_id, stan, sent_at).values())
