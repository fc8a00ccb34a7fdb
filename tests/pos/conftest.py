"""A sample card in a terminal of a small alliance: one merchant, a bank, an insurer."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
from host.backoffice.inprocess_link import InProcessBackOffice
from host.payment.issuer import AuthorisationPolicy
from host.points import SoftwarePurchaseSAM
from host.pos import Journal, MerchantIdentity, Terminal
from host.testing.backoffice import sample_key_store
from host.testing.fixtures import simulated_link
from host.testing.key_files import write_sample_key_files
from host.testing.personalise import SAMPLE, sample_card

CST = dt.timezone(dt.timedelta(hours=8))
START = dt.datetime(2025, 6, 18, 9, 0, tzinfo=CST)
TID = bytes.fromhex("0000000A0001")
MERCHANT = MerchantIdentity("shop-a", TID, "SHOP A")
PIN = "1234"



def terminal_files(directory: Path) -> dict[str, str]:
    """What ``dualcard pos`` needs in ``directory``: the sample card's image, the ledger,
    the key files and the terminal configuration (``config``, ``reader``, ``dir``)."""
    sample_card().save(directory / "card.json")
    build_office(directory).close()
    write_sample_key_files(directory)
    config = directory / "terminal.json"
    config.write_text(json.dumps({
        "format": "dualcard-pos-terminal/1", "merchant_id": "shop-a", "name": "SHOP A",
        "terminal_id": MERCHANT.terminal_hex, "journal": "journal.sqlite3",
        "backoffice": "sqlite:///ledger.sqlite3", "bank_id": "bank",
        "payment_keys": "issuer.json", "points_keys": "points-keys.json",
        "card_keys": "card-keys.json"}))
    return {"config": str(config), "reader": f"sim:{directory / 'card.json'}",
            "dir": str(directory)}


class Clock:
    """A terminal clock that moves only when told."""

    def __init__(self, start: dt.datetime = START) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, minutes: int = 1) -> dt.datetime:
        self.now += dt.timedelta(minutes=minutes)
        return self.now


def build_office(directory: Path, url: str | None = None) -> BackOffice:
    """The alliance: SHOP A (1 point per CNY), a bank (bank: 1 per CNY 2, credit: 1 per CNY),
    an insurer, and the sample card's holder in the standard group (on SQLite in
    ``directory`` unless ``url`` names another database)."""
    office = BackOffice(url or f"sqlite:///{directory / 'ledger.sqlite3'}",
                        verifier=SoftwareCardVerifier(sample_key_store()))
    opened = START - dt.timedelta(hours=2)
    office.init(at=opened)
    office.add_members([
        Member("shop-a", MemberKind.MERCHANT, "Shop A", opened, two_way=Ratio(1, 10),
               terminals=(MERCHANT.terminal_hex,)),
        Member("bank", MemberKind.BANK, "Bank", opened),
        Member("insurer", MemberKind.INSURER, "Insurer", opened),
        Member("zhang", MemberKind.CONSUMER, "Zhang San", opened, card_id=SAMPLE.identity,
               consumer_group="standard"),
    ], at=opened)
    for agreement in (
        Agreement("shop-a-std", "shop-a", "standard", Asset.CONSUMPTION_POINTS, 1, 100,
                  Rounding.DOWN, opened),
        Agreement("bank-debit", "bank", "standard", Asset.BANK_POINTS, 1, 200, Rounding.DOWN,
                  opened),
        Agreement("bank-credit", "bank", "standard", Asset.CREDIT_POINTS, 1, 100,
                  Rounding.DOWN, opened),
    ):
        office.add_agreement(agreement, at=opened)
    return office


@dataclass
class Rig:
    """What a POS test holds: the terminal, its card, back office, link, clock."""

    terminal: Terminal
    card: Any  #: the SimulatedCard
    office: BackOffice
    link: InProcessBackOffice
    clock: Clock
    journal_path: Path

    def reinsert(self) -> None:
        """Put the card back after a pull, and reconnect the terminal's reader."""
        self.card.insert()
        link = simulated_link(self.card)
        self.terminal.attach(link.chip(1), link.chip(2))


def make_link(office: BackOffice, policy: AuthorisationPolicy | None = None) -> InProcessBackOffice:
    return InProcessBackOffice(office, payment_keys=SAMPLE.payment_keys,
                               points_keys=SAMPLE.purse_keys, bank_id="bank",
                               policy=policy or AuthorisationPolicy(approve_up_to=10_000_00,
                                                                    refer_up_to=20_000_00))


def make_terminal(card: Any, link: Any, journal: Journal, clock: Clock) -> Terminal:
    chips = simulated_link(card)
    return Terminal(chips.chip(1), chips.chip(2), merchant=MERCHANT, backoffice=link,
                    sam=SoftwarePurchaseSAM(SAMPLE.purse_keys, TID), journal=journal,
                    clock=clock, unpredictable=lambda: bytes.fromhex("1A2B3C4D"))


@pytest.fixture
def rig(sim_card: Any, tmp_path: Path) -> Iterator[Rig]:
    yield from open_rig(sim_card, tmp_path)


def open_rig(sim_card: Any, tmp_path: Path, url: str | None = None) -> Iterator[Rig]:
    """A terminal, its card and the alliance's back office (SQLite unless ``url``)."""
    office = build_office(tmp_path, url)
    link = make_link(office)
    clock = Clock()
    path = tmp_path / "journal.sqlite3"
    terminal = make_terminal(sim_card, link, Journal(path, terminal_id=MERCHANT.terminal_hex),
                             clock)
    try:
        yield Rig(terminal, sim_card, office, link, clock, path)
    finally:
        terminal.journal.close()
        office.close()
