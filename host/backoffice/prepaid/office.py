"""One object for the prepaid part of the back office over one database: what the CLI, the
demo and (later) a service handler call. Each method delegates to the module that owns the
concept; every write takes a client request id and posts once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from host.backoffice.database import Database
from host.backoffice.errors import ConfigurationError
from host.backoffice.ledger import Ledger
from host.backoffice.prepaid import claims, payments, program_store, rate_store
from host.backoffice.prepaid.balances import account_balance
from host.backoffice.prepaid.holders import account_of_card
from host.backoffice.prepaid.issue import IssueRequest, issue
from host.backoffice.prepaid.policies import list_policies
from host.backoffice.prepaid.programs import HolderKind, Program
from host.backoffice.prepaid.rates import RateRow
from host.backoffice.prepaid.reconcile import reconcile
from host.backoffice.prepaid.records import card_history
from host.backoffice.prepaid.schema import PART, create_prepaid_schema, has_prepaid_schema

__all__ = ["PrepaidOffice"]

class PrepaidOffice:
    """Prepaid programs, sub-cards, payments, policies, reconciliation and claims."""

    def __init__(self, db: Database | str) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.ledger = Ledger(self.db)

    def close(self) -> None:
        self.db.dispose()

    def _require_schema(self) -> None:
        """The prepaid tables must exist; a database made before a column was added gains
        it here, once per database object (a service makes an office per request; the
        database object remembers, :attr:`Database.up_to_date`)."""
        if PART in self.db.up_to_date:
            return
        if not has_prepaid_schema(self.db):
            raise ConfigurationError(f"no prepaid programs in {self.db.url}: add one first "
                                     "(`dualcard prepaid program add`)")
        create_prepaid_schema(self.db)

    # -- programs and issue ----------------------------------------------------------------

    def add_program(self, program: Program, *, at: datetime) -> str:
        """Record a program (the prepaid tables are made on first use); idempotent."""
        if not self.db.has_schema():
            raise ConfigurationError(f"no ledger in {self.db.url}: run `dualcard ledger init`")
        create_prepaid_schema(self.db)
        with self.db.write() as conn:
            return program_store.add_program(conn, self.ledger, program, at=at)

    def programs(self, merchant_id: str | None = None) -> list[Program]:
        self._require_schema()
        with self.db.read() as conn:
            return program_store.list_programs(conn, merchant_id)

    def issue(self, request_id: str, program_id: str, holder_id: str, amount: int, *,
              at: datetime, holder_kind: HolderKind = HolderKind.REGISTERED
              ) -> dict[str, Any]:
        """Split a purchase into insured sub-cards under one network account (F13, F14),
        under the cap of the holder's kind."""
        return self.issue_many([IssueRequest(request_id, program_id, holder_id, amount,
                                             holder_kind)], at=at)[0]

    def issue_many(self, requests: Sequence[IssueRequest], *, at: datetime
                   ) -> list[dict[str, Any]]:
        """Many purchases in one transaction, all or nothing (a sales batch)."""
        self._require_schema()
        return issue(self.db, self.ledger, requests, at=at)

    # -- the cards acting as one -----------------------------------------------------------

    def pay(self, request_id: str, account_id: str, price: int, *, at: datetime,
            merchant_id: str | None = None) -> dict[str, Any]:
        """A payment from a network account's cards (a count card: ``price`` uses). What a
        terminal's handler calls once it has identified the holder by chip 1."""
        self._require_schema()
        request = payments.PayRequest(request_id, account_id, price, merchant_id)
        return payments.pay(self.db, self.ledger, request, at=at)

    def account_of_card(self, card_id: str, merchant_id: str,
                        program_id: str | None = None) -> str:
        """The account a card read at ``merchant_id``'s till pays from (see
        :mod:`~host.backoffice.prepaid.holders`)."""
        self._require_schema()
        with self.db.read() as conn:
            return account_of_card(conn, card_id, merchant_id, program_id)

    def refund(self, payment_id: str, *, at: datetime) -> dict[str, Any]:
        self._require_schema()
        return payments.refund(self.db, self.ledger, payment_id, at=at)

    def expire_due(self, *, at: datetime) -> dict[str, Any]:
        self._require_schema()
        return payments.expire_due(self.db, self.ledger, at=at)

    def balance(self, account_id: str, *, as_of: datetime | None = None) -> dict[str, Any]:
        self._require_schema()
        with self.db.read() as conn:
            return account_balance(conn, account_id, as_of=as_of)

    def history(self, card_no: str, *, as_of: datetime | None = None) -> list[dict[str, Any]]:
        self._require_schema()
        with self.db.read() as conn:
            return card_history(conn, card_no, as_of=as_of)

    # -- insurance, reconciliation, claims -------------------------------------------------

    def add_rate(self, row: RateRow, *, at: datetime) -> str:
        """Define one row of an insurer's premium rate table (idempotent; rows never
        overlap)."""
        if not self.db.has_schema():
            raise ConfigurationError(f"no ledger in {self.db.url}: run `dualcard ledger init`")
        create_prepaid_schema(self.db)
        with self.db.write() as conn:
            return rate_store.add_rate(self.db, conn, row, at=at)

    def rates(self, insurer_id: str | None = None) -> list[RateRow]:
        self._require_schema()
        with self.db.read() as conn:
            return rate_store.list_rates(conn, None if insurer_id is None else [insurer_id])

    def policies(self, *, merchant_id: str | None = None, holder_id: str | None = None,
                 insurer_id: str | None = None, limit: int | None = None
                 ) -> list[dict[str, Any]]:
        self._require_schema()
        with self.db.read() as conn:
            return list_policies(conn, merchant_id=merchant_id, holder_id=holder_id,
                                 insurer_id=insurer_id, limit=limit)

    def reconcile(self, day: date) -> dict[str, Any]:
        self._require_schema()
        return reconcile(self.db, day)

    def open_claim(self, claim_id: str, merchant_id: str, trigger: claims.Trigger, *,
                   trigger_at: datetime, at: datetime) -> dict[str, Any]:
        self._require_schema()
        return claims.open_claim(self.db, self.ledger, claim_id, merchant_id, trigger,
                                 trigger_at=trigger_at, at=at)

    def review_claim(self, claim_id: str, *, approve: bool, note: str, at: datetime
                     ) -> dict[str, Any]:
        self._require_schema()
        return claims.review_claim(self.db, self.ledger, claim_id, approve=approve, note=note,
                                   at=at)

    def pay_claim(self, claim_id: str, *, at: datetime) -> dict[str, Any]:
        self._require_schema()
        return claims.pay_claim(self.db, self.ledger, claim_id, at=at)

    def claim(self, claim_id: str) -> dict[str, Any]:
        self._require_schema()
        return claims.claim_report(self.db, claim_id)
