"""A small alliance for the prepaid tests (a gym and a bakery, an insurer, holders), and the
invariants every test can check after any operation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from host.backoffice import BackOffice, Member, MemberKind, Ratio
from host.backoffice.prepaid import PrepaidOffice, Program, ProgramKind
from host.backoffice.prepaid.accounts import card_account, custody
from host.backoffice.prepaid.schema import pp_cards, pp_movements

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=CST)
CAP = 500_000  # 5,000.00 CNY
HOLDERS = ("C001", "C002", "C003")


def holder_members(at: datetime) -> list[Member]:
    return [Member(h, MemberKind.CONSUMER, f"holder {h}", at, card_id=f"CARD{h}",
                   consumer_group="standard")
            for h in HOLDERS]


@dataclass
class Sample:
    office: BackOffice
    prepaid: PrepaidOffice

    @classmethod
    def create(cls, url: str, *, bonus_bp: int = 1_000, valid_days: int | None = None
               ) -> Sample:
        office = BackOffice(url)
        office.init(at=T0)
        office.add_members([
            Member("GYM", MemberKind.MERCHANT, "Iron Gym", T0, two_way=Ratio(1, 10)),
            Member("BAKERY", MemberKind.MERCHANT, "Golden Bakery", T0, two_way=Ratio(1, 10)),
            Member("PICC", MemberKind.INSURER, "PICC Property", T0),
            *holder_members(T0),
        ], at=T0)
        prepaid = PrepaidOffice(office.db)
        prepaid.add_program(Program("GYM-FIT", "GYM", ProgramKind.BONUS, CAP, "PICC",
                                    premium_bp=80, bonus_bp=bonus_bp, valid_days=valid_days),
                            at=T0)
        prepaid.add_program(Program("BAKE-10", "BAKERY", ProgramKind.DISCOUNT, 100_000, "PICC",
                                    premium_bp=50, discount_bp=1_000), at=T0)
        return cls(office, prepaid)


def check_invariants(prepaid: PrepaidOffice) -> None:
    """Every card within 0..cap, principal + bonus = its ledger balance, the live record's
    last balance = the card's, and every merchant's cards = its custody account."""
    ledger = prepaid.ledger
    with prepaid.db.read() as conn:
        cards = conn.execute(select(pp_cards)).all()
        last = {r.card_no: (r.principal_after, r.bonus_after) for r in conn.execute(
            select(pp_movements).order_by(pp_movements.c.seq))}
    accounts = {a.id: a for a in ledger.accounts([card_account(c.card_no) for c in cards])}
    per_merchant: dict[str, int] = {}
    for card in cards:
        account = accounts[card_account(card.card_no)]
        assert card.principal_left >= 0 and card.bonus_left >= 0
        assert account.balance.posted == card.principal_left + card.bonus_left, card.card_no
        assert account.balance.posted <= (account.upper_bound or 0)
        assert last[card.card_no] == (card.principal_left, card.bonus_left)
        per_merchant[card.merchant_id] = per_merchant.get(card.merchant_id, 0) + \
            account.balance.posted
    for merchant, total in per_merchant.items():
        assert ledger.account(custody(merchant)).balance.posted == total, merchant
