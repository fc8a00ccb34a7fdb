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

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.ciphers import Algorithm
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
from host.backoffice.card_keys import KEY_FILE_FORMAT
from host.backoffice.inprocess_link import PURSE_ASSETS
from host.points.keyfile import issuer_keys_to_dict
from host.pos import MerchantIdentity
from host.pos.config import CONFIG_FORMAT

from .backoffice import sample_key_store
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
    _write_json(files.payment_keys, _payment_keys())
    _write_json(files.points_keys, issuer_keys_to_dict(SAMPLE.purse_keys))
    _write_json(files.card_keys, _card_keys())
    _write_json(files.config, {
        "format": CONFIG_FORMAT, "merchant_id": MERCHANT.merchant_id, "name": MERCHANT.name,
        "terminal_id": MERCHANT.terminal_hex, "journal": files.journal.name,
        "backoffice": f"sqlite:///{files.ledger.name}", "bank_id": "bank",
        "payment_keys": files.payment_keys.name, "points_keys": files.points_keys.name,
        "card_keys": files.card_keys.name})
    return files


def _payment_keys() -> dict[str, str]:
    """The chip 1 issuer's master keys, as ``host.payment.keys.load_issuer_keys`` reads them."""
    keys = SAMPLE.payment_keys
    return {"imk_ac": keys.emv.ac.hex(), "imk_smi": keys.emv.smi.hex(),
            "imk_smc": keys.emv.smc.hex(), "cvk": keys.cvk.hex(), "pvk": keys.pvk.hex()}


def _card_keys() -> dict[str, object]:
    """The sample card's own keys, as the back office's verifier reads them (the same keys
    :func:`host.testing.backoffice.sample_key_store` holds)."""
    store = sample_key_store()
    dtk = {PURSE_ASSETS[p].value: _hex(store.tac_key_of(SAMPLE.identity, PURSE_ASSETS[p]))
           for p in Purse}
    ac_mk = {p.product.value: _hex(store.ac_master_key_of(SAMPLE.identity, p.product.value))
             for p in SAMPLE.payment_profiles}
    algorithm = {Algorithm.TDES: "3des"}.get(store.algorithm, store.algorithm.value.lower())
    return {"format": KEY_FILE_FORMAT, "algorithm": algorithm,
            "cards": {SAMPLE.identity: {"dtk": dtk, "ac_mk": ac_mk}}}


def _hex(key: bytes | None) -> str:
    if key is None:
        raise LookupError("the sample key store lacks a key of the sample card")
    return key.hex()


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
