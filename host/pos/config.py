"""A terminal's configuration file (``dualcard-pos-terminal/1``), for the CLI and operators.

JSON naming the merchant, the terminal id, the journal file, the back office database
and the key files; paths are relative to the configuration file. Keys live in their own
files (as the ``pay`` and ``points`` commands read them), never in this one
(:func:`host.backoffice.inprocess_link.open_backoffice` opens the back office it names)::

    {"format": "dualcard-pos-terminal/1", "merchant_id": "tea-house",
     "name": "JASMINE TEA HOUSE", "terminal_id": "0000000A0001",
     "journal": "journal.sqlite3", "backoffice": "sqlite:///ledger.sqlite3",
     "bank_id": "bank", "payment_keys": "issuer.json", "points_keys": "points-keys.json",
     "card_keys": "card-keys.json"}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host.files import read_json
from host.points import SoftwarePurchaseSAM
from host.points.keyfile import load_issuer_keys as load_points_keys
from host.transport.base import Transport

from .errors import POSUsageError
from .journal import Journal
from .link import BackOfficeLink
from .merchant import MerchantIdentity
from .saf import SAF_FILE, StoreAndForward
from .stan import STAN_FILE, PersistentStanCounter
from .terminal import Terminal

__all__ = ["CONFIG_FORMAT", "TerminalConfig", "load_config"]

CONFIG_FORMAT = "dualcard-pos-terminal/1"
_REQUIRED = ("merchant_id", "terminal_id", "journal", "backoffice", "bank_id", "payment_keys",
             "points_keys", "card_keys")


@dataclass(frozen=True)
class TerminalConfig:
    merchant: MerchantIdentity
    journal: Path
    backoffice_url: str
    bank_id: str
    payment_keys: Path
    points_keys: Path
    card_keys: Path

    def open_journal(self) -> Journal:
        return Journal(self.journal, terminal_id=self.merchant.terminal_hex)

    def open_saf(self) -> StoreAndForward:
        """The store-and-forward queue, ``saf.sqlite3`` beside the journal."""
        return StoreAndForward(self.journal.parent / SAF_FILE)

    def open_stan_counter(self) -> PersistentStanCounter:
        """The terminal's STAN counter, ``stan.sqlite3`` beside the journal: a restarted
        terminal goes on from its last STAN, never reusing one the service still holds."""
        return PersistentStanCounter(self.journal.parent / STAN_FILE)

    def terminal(self, chip1: Transport, chip2: Transport, link: BackOfficeLink,
                 journal: Journal) -> Terminal:
        sam = SoftwarePurchaseSAM(load_points_keys(self.points_keys), self.merchant.terminal_id)
        return Terminal(chip1, chip2, merchant=self.merchant, backoffice=link, sam=sam,
                        journal=journal)


def _path(base: Path, value: Any, name: str) -> Path:
    if not isinstance(value, str) or not value:
        raise POSUsageError(f"terminal configuration: {name} must be a path")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _url(base: Path, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise POSUsageError("terminal configuration: backoffice must be a database URL")
    prefix = "sqlite:///"
    if value.startswith(prefix) and not value.startswith(prefix + "/"):
        return prefix + str(base / value[len(prefix):])
    return value


def load_config(path: str | Path) -> TerminalConfig:
    """Read a terminal configuration; :class:`POSUsageError` names what is wrong."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
        raise POSUsageError(f"terminal configuration {path}: format must be {CONFIG_FORMAT!r}")
    missing = [name for name in _REQUIRED if name not in data]
    if missing:
        raise POSUsageError(f"terminal configuration {path} lacks {', '.join(missing)}")
    base = path.parent
    try:
        terminal_id = bytes.fromhex(str(data["terminal_id"]))
    except ValueError:
        raise POSUsageError("terminal configuration: terminal_id must be 12 hex digits") from None
    merchant = MerchantIdentity(str(data["merchant_id"]), terminal_id,
                                str(data.get("name") or data["merchant_id"]))
    return TerminalConfig(merchant, _path(base, data["journal"], "journal"),
                          _url(base, data["backoffice"]), str(data["bank_id"]),
                          _path(base, data["payment_keys"], "payment_keys"),
                          _path(base, data["points_keys"], "points_keys"),
                          _path(base, data["card_keys"], "card_keys"))
