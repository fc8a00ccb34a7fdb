"""One object for the whole back office over one database: what the CLI and a host
application call. Each method is a thin delegation to the module that owns the concept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from host.backoffice import conversion, credit, outbox, statements
from host.backoffice.agreements import Agreement, add_agreement, list_agreements
from host.backoffice.assets import Asset
from host.backoffice.clearing import Clearing, ClearingResult
from host.backoffice.database import Database
from host.backoffice.errors import ConfigurationError
from host.backoffice.ledger import Ledger
from host.backoffice.members import (
    ALLIANCE_ID,
    Member,
    MemberKind,
    find_member,
    list_members,
    register_member,
    register_members,
)
from host.backoffice.rates import Ratio
from host.backoffice.settings import AllianceSettings, load_settings, save_settings
from host.backoffice.settlement import SettlementResult, settle_day
from host.backoffice.transfers import Balance
from host.backoffice.verifier import CardVerifier
from host.records.batch import TerminalBatch

__all__ = ["BackOffice"]

_ONE_FEN_PER_POINT = Ratio(1, 1)


class BackOffice:
    """The alliance's back office on one database (SQLite file or PostgreSQL URL)."""

    def __init__(self, db: Database | str, *, verifier: CardVerifier | None = None) -> None:
        self.db = db if isinstance(db, Database) else Database(db)
        self.ledger = Ledger(self.db)
        self._verifier = verifier
        self._clearing: Clearing | None = None

    @property
    def verifier(self) -> CardVerifier | None:
        return self._verifier

    def close(self) -> None:
        self.db.dispose()

    # -- set-up ----------------------------------------------------------------------------

    def init(self, *, at: datetime, settings: AllianceSettings | None = None) -> str:
        """Create the schema, the alliance and its accounts; idempotent."""
        self.db.create_schema()
        with self.db.write() as conn:
            status = save_settings(conn, settings or AllianceSettings())
            register_member(conn, self.ledger, Member(
                ALLIANCE_ID, MemberKind.ALLIANCE, "Alliance clearing house", at,
            ), at=at)
        return status

    def settings(self) -> AllianceSettings:
        with self.db.read() as conn:
            return load_settings(conn)

    # -- members and agreements ------------------------------------------------------------

    def add_member(self, member: Member, *, at: datetime) -> str:
        with self.db.write() as conn:
            load_settings(conn)
            return register_member(conn, self.ledger, member, at=at)

    def add_members(self, members: Sequence[Member], *, at: datetime) -> list[str]:
        """Add many members in one transaction."""
        with self.db.write() as conn:
            load_settings(conn)
            return register_members(conn, self.ledger, members, at=at)

    def member(self, member_id: str) -> Member:
        with self.db.read() as conn:
            return find_member(conn, member_id)

    def members(self, kind: MemberKind | None = None) -> list[Member]:
        with self.db.read() as conn:
            return list_members(conn, kind)

    def add_agreement(self, agreement: Agreement, *, at: datetime) -> str:
        with self.db.write() as conn:
            return add_agreement(conn, agreement, at=at)

    def agreements(self, issuer_id: str | None = None) -> list[Agreement]:
        with self.db.read() as conn:
            return list_agreements(conn, issuer_id)

    # -- clearing and settlement -----------------------------------------------------------

    def clear(self, batch: TerminalBatch, *, at: datetime) -> ClearingResult:
        if self._clearing is None:
            if self._verifier is None:
                raise ConfigurationError("clearing needs a card verifier (issuer keys)")
            self._clearing = Clearing(self.db, self.ledger, self._verifier)
        return self._clearing.clear(batch, at=at)

    def settle(self, day: date, *, at: datetime) -> SettlementResult:
        return settle_day(self.db, self.ledger, day, at=at)

    # -- conversion and credit -------------------------------------------------------------

    def convert(
        self,
        conversion_id: str,
        member_id: str,
        points: int,
        *,
        at: datetime,
        asset: Asset = Asset.CONSUMPTION_POINTS,
        rate: Ratio = _ONE_FEN_PER_POINT,
        fee_bp: int = 0,
        insurer_id: str | None = None,
        policy: str | None = None,
    ) -> conversion.ConversionResult:
        return conversion.convert_points(
            self.db, self.ledger, conversion_id=conversion_id, member_id=member_id,
            asset=asset, points=points, rate=rate, fee_bp=fee_bp, at=at,
            insurer_id=insurer_id, policy=policy,
        )

    def review_credit(
        self, *, at: datetime, member_ids: Sequence[str] | None = None
    ) -> list[credit.CreditDecision]:
        return credit.review_credit(self.db, self.ledger, at=at, member_ids=member_ids)

    def open_credit_line(
        self, member_id: str, limit: int, *, at: datetime, reason: str = "card issued"
    ) -> credit.CreditDecision:
        """Start a member's line at the limit the card was personalised with (minor units)."""
        return credit.open_line(self.db, self.ledger, member_id, limit, reason=reason, at=at)

    def pending_limit_updates(self, card_id: str) -> list[credit.LimitUpdate]:
        return credit.pending_limit_updates(self.db, card_id)

    def mark_delivered(self, script_id: str, *, at: datetime) -> bool:
        return credit.mark_delivered(self.db, script_id, at=at)

    # -- what holders see ------------------------------------------------------------------

    def balance(self, account_id: str, *, as_of: datetime | None = None) -> Balance:
        if as_of is None:
            return self.ledger.account(account_id).balance
        with self.db.read() as conn:
            self.ledger.account(account_id, conn=conn)
            return statements.balance_as_of(conn, account_id, as_of)

    def statement(
        self, account_id: str, *, end: datetime, start: datetime | None = None
    ) -> statements.Statement:
        return statements.statement(self.db, account_id, end=end, start=start)

    def messages(
        self, *, limit: int = 100, recipient_id: str | None = None
    ) -> list[outbox.Message]:
        return outbox.undelivered(self.db, limit=limit, recipient_id=recipient_id)
