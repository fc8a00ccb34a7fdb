"""A sample card in a terminal of a small alliance: one merchant, a bank, an insurer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from host.backoffice import BackOffice
from host.backoffice.inprocess_link import InProcessBackOffice
from host.payment.issuer import AuthorisationPolicy
from host.points import SoftwarePurchaseSAM
from host.pos import Journal, Terminal
from host.testing.fixtures import simulated_link
from host.testing.personalise import SAMPLE
from host.testing.sample_terminal import (
    MERCHANT,
    OPENED,
    sample_alliance,
    write_sample_terminal,
)

START = OPENED + dt.timedelta(hours=2)
TID = MERCHANT.terminal_id
PIN = "1234"



def terminal_files(directory: Path) -> dict[str, str]:
    """What ``dualcard pos`` needs in ``directory`` (what ``dualcard pos setup`` writes): the
    sample card's image, the ledger, the key files and the terminal configuration."""
    files = write_sample_terminal(directory)
    return {"config": str(files.config), "reader": f"sim:{files.card}", "dir": str(directory)}


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
    """The sample alliance (:func:`host.testing.sample_terminal.sample_alliance`), on SQLite
    in ``directory`` unless ``url`` names another database."""
    return sample_alliance(url or f"sqlite:///{directory / 'ledger.sqlite3'}")


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
