"""Shared set-up of the settlement-centre tests: a back office with two consumers opened
in the centre, two merchants and a funded simulated bank."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.backoffice.centre import SettlementCentre, TierSettings
from host.backoffice.centre.tables import sc_topups
from host.backoffice.schema import ledger_transfers

T0 = datetime(2030, 3, 1, 9, tzinfo=UTC)
CAP, THRESHOLD, LINE = 500_000, 100_000, 1_000_000
HOLDERS = ("C1", "C2")
ADDRESS = "8 Park Road"


def make_centre(url: str, *, deposit: int = 100_000_000, at: datetime = T0) -> SettlementCentre:
    office = BackOffice(url)
    office.init(at=at)
    office.add_members([
        Member("M1", MemberKind.MERCHANT, "Books", at, two_way=Ratio(1, 10)),
        Member("M2", MemberKind.MERCHANT, "Water", at, two_way=Ratio(1, 10)),
        *(Member(h, MemberKind.CONSUMER, h, at, card_id=f"CARD-{h}", consumer_group="std")
          for h in HOLDERS),
    ], at=at)
    centre = SettlementCentre(office.db)
    for holder in HOLDERS:
        centre.bank.open_account(f"BK-{holder}", deposit=deposit, at=at)  # type: ignore[attr-defined]
        centre.open_account(holder, TierSettings(CAP, THRESHOLD, LINE),
                            bank_account=f"BK-{holder}", addresses=[ADDRESS], at=at)
    return centre


def transfer_count(centre: SettlementCentre, prefix: str) -> int:
    with centre.db.read() as conn:
        query = select(func.count()).select_from(ledger_transfers).where(
            ledger_transfers.c.id.like(f"{prefix}%"))
        return int(conn.execute(query).scalar_one())


def topup_totals(centre: SettlementCentre, holder: str) -> dict[str, int]:
    with centre.db.read() as conn:
        rows = conn.execute(select(sc_topups.c.state, func.sum(sc_topups.c.amount))
                            .where(sc_topups.c.holder_id == holder)
                            .group_by(sc_topups.c.state)).all()
    return {state: int(total) for state, total in rows}


def bank_debited(centre: SettlementCentre, holder: str) -> int:
    """What the simulated bank paid out of the holder's account for top-ups."""
    with centre.db.read() as conn:
        query = select(func.coalesce(func.sum(ledger_transfers.c.amount), 0)).where(
            ledger_transfers.c.debit_account == f"simbank:BK-{holder}")
        return int(conn.execute(query).scalar_one())
