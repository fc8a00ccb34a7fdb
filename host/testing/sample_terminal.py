"""A sample merchant terminal for the sample card: what ``dualcard pos setup`` writes, and
the small alliance the POS tests run in.

Everything here is made of test keys (:data:`host.testing.SAMPLE`): a demonstration and
test setup, never a real terminal's.

- :func:`sample_alliance` — a ledger with one merchant (SHOP A, terminal
  ``0000000A0001``), a bank, an insurer and the sample card's holder, and the agreements
  that make a sale earn points;
- :func:`write_sample_terminal` — that ledger on SQLite, the sample card's image, the
  three key files the terminal configuration names and the configuration itself.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import astuple, dataclass
from pathlib import Path

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
from host.pos import MerchantIdentity
from host.pos.config import CONFIG_FORMAT

from .backoffice import sample_key_store
from .key_files import write_sample_key_files
from .personalise import SAMPLE, sample_card

__all__ = ["MERCHANT", "OPENED", "SampleTerminalFiles", "sample_alliance",
           "sample_terminal_files", "write_sample_terminal"]

CST = dt.timezone(dt.timedelta(hours=8))
#: when the sample alliance opened its books (a fixed instant: sales come after it)
OPENED = dt.datetime(2025, 6, 18, 7, 0, tzinfo=CST)
MERCHANT = MerchantIdentity("shop-a", bytes.fromhex("0000000A0001"), "SHOP A")


@dataclass(frozen=True)
class SampleTerminalFiles:
    """What :func:`write_sample_terminal` writes (the journal appears with the first sale)."""

    config: Path
    card: Path
    ledger: Path
    payment_keys: Path
    points_keys: Path
    card_keys: Path
    journal: Path

    def paths(self) -> tuple[Path, ...]:
        return astuple(self)


def sample_alliance(url: str) -> BackOffice:
    """The alliance at ``url``: SHOP A (1 point per CNY), a bank (bank points: 1 per CNY 2,
    credit points: 1 per CNY), an insurer, and the sample card's holder (group standard)."""
    office = BackOffice(url, verifier=SoftwareCardVerifier(sample_key_store()))
    office.init(at=OPENED)
    office.add_members([
        Member("shop-a", MemberKind.MERCHANT, "Shop A", OPENED, two_way=Ratio(1, 10),
               terminals=(MERCHANT.terminal_hex,)),
        Member("bank", MemberKind.BANK, "Bank", OPENED),
        Member("insurer", MemberKind.INSURER, "Insurer", OPENED),
        Member("zhang", MemberKind.CONSUMER, "Zhang San", OPENED, card_id=SAMPLE.identity,
               consumer_group="standard"),
    ], at=OPENED)
    for agreement in (
        Agreement("shop-a-std", "shop-a", "standard", Asset.CONSUMPTION_POINTS, 1, 100,
                  Rounding.DOWN, OPENED),
        Agreement("bank-debit", "bank", "standard", Asset.BANK_POINTS, 1, 200, Rounding.DOWN,
                  OPENED),
        Agreement("bank-credit", "bank", "standard", Asset.CREDIT_POINTS, 1, 100,
                  Rounding.DOWN, OPENED),
    ):
        office.add_agreement(agreement, at=OPENED)
    return office


def sample_terminal_files(directory: Path) -> SampleTerminalFiles:
    """Where :func:`write_sample_terminal` writes in ``directory`` (names as in docs/pos.md)."""
    return SampleTerminalFiles(*(directory / name for name in (
        "terminal.json", "card.json", "ledger.sqlite3", "issuer.json", "points-keys.json",
        "card-keys.json", "journal.sqlite3")))


def write_sample_terminal(directory: Path) -> SampleTerminalFiles:
    """Write the sample terminal's files into ``directory``; a ledger or journal already
    there is replaced (a fresh terminal starts with empty books)."""
    files = sample_terminal_files(directory)
    files.ledger.unlink(missing_ok=True)
    files.journal.unlink(missing_ok=True)
    sample_card().save(files.card)
    sample_alliance(f"sqlite:///{files.ledger}").close()
    write_sample_key_files(directory)  # issuer.json, points-keys.json, card-keys.json
    _write_json(files.config, {
        "format": CONFIG_FORMAT, "merchant_id": MERCHANT.merchant_id, "name": MERCHANT.name,
        "terminal_id": MERCHANT.terminal_hex, "journal": files.journal.name,
        "backoffice": f"sqlite:///{files.ledger.name}", "bank_id": "bank",
        "payment_keys": files.payment_keys.name, "points_keys": files.points_keys.name,
        "card_keys": files.card_keys.name})
    return files


def _hex(key: bytes | None) -> str:
    if key is None:
        raise LookupError("the sample key store lacks a key of the sample card")
    return key.hex()


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
