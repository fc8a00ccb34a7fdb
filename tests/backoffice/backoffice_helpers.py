"""Shared helpers of the back-office tests: a sample alliance (members, agreements, cards,
terminals) and the invariant checks every test can run after any operation."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from host.backoffice import (
    Agreement,
    Asset,
    BackOffice,
    Member,
    MemberKind,
    Ratio,
    Rounding,
    SoftwareCardVerifier,
)
from host.backoffice.database import Database
from host.backoffice.records import PaymentRecord, PurseRecord, record_from_row
from host.backoffice.sample_cards import SampleCards, SampleTerminal
from host.backoffice.schema import bo_card_records, ledger_accounts, ledger_transfers

CST = timezone(timedelta(hours=8))
T0 = datetime(2025, 3, 14, 9, 0, tzinfo=CST)
TEA_TERMINAL = "0000000000A1"
BAKERY_TERMINAL = "0000000000B1"
CARD_COUNT = 6


def card(n: int) -> str:
    return f"CARD{n:04d}"


def consumer(n: int) -> str:
    return f"C{n:03d}"


@dataclass
class SampleAlliance:
    """Two merchants (TEA earns 1 point per yuan, BAKERY 2), a bank, an insurer and
    CARD_COUNT consumers with sample cards."""

    office: BackOffice
    cards: SampleCards
    terminals: dict[str, SampleTerminal] = field(default_factory=dict)

    @classmethod
    def create(cls, url: str, *, card_count: int = CARD_COUNT, at: datetime = T0) -> SampleAlliance:
        cards = SampleCards("tests")
        ids = [card(n) for n in range(1, card_count + 1)]
        verifier = SoftwareCardVerifier(cards.key_store(ids))
        office = BackOffice(url, verifier=verifier)
        office.init(at=at)
        office.add_members([
            Member("TEA", MemberKind.MERCHANT, "Jasmine Tea House", at, two_way=Ratio(1, 10),
                   terminals=(TEA_TERMINAL,)),
            Member("BAKERY", MemberKind.MERCHANT, "Golden Bakery", at, two_way=Ratio(1, 10),
                   terminals=(BAKERY_TERMINAL,)),
            Member("BANK", MemberKind.BANK, "Alliance Bank", at),
            Member("INSURER", MemberKind.INSURER, "Ping An", at),
            *(Member(consumer(n), MemberKind.CONSUMER, f"holder {n}", at, card_id=card(n),
                     consumer_group="standard") for n in range(1, card_count + 1)),
        ], at=at)
        office.add_agreement(Agreement("TEA-STD", "TEA", "standard", Asset.CONSUMPTION_POINTS,
                                       1, 100, Rounding.DOWN, at), at=at)
        office.add_agreement(Agreement("BAKERY-STD", "BAKERY", "standard",
                                       Asset.CONSUMPTION_POINTS, 2, 100, Rounding.DOWN, at),
                             at=at)
        office.add_agreement(Agreement("BANK-STD", "BANK", "standard", Asset.BANK_POINTS,
                                       1, 1000, Rounding.HALF_UP, at), at=at)
        sample = cls(office, cards)
        for terminal in (TEA_TERMINAL, BAKERY_TERMINAL):
            sample.terminals[terminal] = SampleTerminal(terminal, cards)
        return sample

    def terminal(self, terminal_id: str) -> SampleTerminal:
        """A terminal sharing card counters with the others (one card, one purse)."""
        shared = self.terminals[TEA_TERMINAL]._state
        term = self.terminals[terminal_id]
        term._state = shared
        return term


def check_invariants(db: Database, verifier: SoftwareCardVerifier | None = None) -> None:
    """What must hold after every operation:

    * per asset, posted balances sum to zero and so do pending ones;
    * no account is outside its bounds (counting held amounts, as posting does);
    * each account's running balances equal the sums of its transfers;
    * every stored card record is marked verified, and (given a verifier) its MAC verifies.
    """
    with db.read() as conn:
        accounts = conn.execute(select(ledger_accounts)).all()
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for a in accounts:
            totals[a.asset][0] += a.credits_posted - a.debits_posted
            totals[a.asset][1] += a.credits_pending - a.debits_pending
            lowest = a.credits_posted - a.debits_posted - a.debits_pending
            highest = a.credits_posted + a.credits_pending - a.debits_posted
            assert a.lower_bound is None or lowest >= a.lower_bound, a
            assert a.upper_bound is None or highest <= a.upper_bound, a
        for asset, (posted, pending) in totals.items():
            assert (posted, pending) == (0, 0), (asset, posted, pending)
        sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        t = ledger_transfers.c
        for side, offset in ((t.debit_account, 0), (t.credit_account, 1)):
            query = (select(side, func.sum(t.posted_amount), func.sum(t.pending_delta))
                     .group_by(side))
            for account_id, posted, pending in conn.execute(query):
                sums[account_id][offset] = int(posted)
                sums[account_id][offset + 2] = int(pending)
        for a in accounts:
            expected = sums.get(a.id, [0, 0, 0, 0])
            actual = [a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending]
            assert actual == expected, (a.id, actual, expected)
        records = conn.execute(select(bo_card_records)).all()
    for r in records:
        assert r.mac_verified
        if verifier is not None:
            assert _reverify(verifier, r), r


def _reverify(verifier: SoftwareCardVerifier, row) -> bool:
    """Prove a stored card record again from what the database kept."""
    record = record_from_row(row)
    if isinstance(record, PaymentRecord):
        return verifier.verify_payment_cryptogram(record)
    return verifier.verify_purse_tac(record)


def posted(office: BackOffice, account_id: str) -> int:
    return office.balance(account_id).posted


def purse_records(batch) -> list[PurseRecord]:
    return [r for r in batch.records if isinstance(r, PurseRecord)]


def payment_records(batch) -> list[PaymentRecord]:
    return [r for r in batch.records if isinstance(r, PaymentRecord)]
