"""The terminal's side of the data objects a card asks for in its PDOL and CDOLs.

Inject the date and the unpredictable number to make a transaction reproducible
(a vector); production leaves them to the clock and ``os.urandom``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from apdu_specs.payment.bcd import encode_amount, encode_numeric
from apdu_specs.tags import TAGS
from apdu_specs.tlv import build_dol_data

__all__ = ["NUMERIC_TAGS", "TerminalProfile", "TransactionData", "build_dol"]

NUMERIC_TAGS = frozenset(t for t, info in TAGS.items() if info.fmt == "n")


def build_dol(dol: Sequence[tuple[int, int]], values: Mapping[int, bytes]) -> bytes:
    """DOL data: values in DOL order, fitted to each length (EMV Book 3 §5.4)."""
    return build_dol_data(dol, values, numeric_tags=NUMERIC_TAGS)


@dataclass(frozen=True)
class TerminalProfile:
    country: int = 156
    currency: int = 156
    currency_exponent: int = 2
    terminal_type: int = 0x22  #: attended, offline with online capability, merchant
    capabilities: bytes = bytes.fromhex("E0B8C8")
    #: amounts up to this may be approved offline (the terminal asks a TC); above, it asks an ARQC
    floor_limit: int = 0


@dataclass(frozen=True)
class TransactionData:
    amount: int
    unpredictable_number: bytes
    date: dt.date
    transaction_type: int = 0x00  #: goods and services
    amount_other: int = 0
    tvr: bytes = bytes(5)

    def values(self, terminal: TerminalProfile) -> dict[int, bytes]:
        """Every data object the terminal can supply, by tag."""
        return {
            0x9F02: encode_amount(self.amount), 0x9F03: encode_amount(self.amount_other),
            0x9F1A: encode_numeric(terminal.country, 2),
            0x5F2A: encode_numeric(terminal.currency, 2),
            0x9A: bytes.fromhex(self.date.strftime("%y%m%d")),
            0x9C: encode_numeric(self.transaction_type, 1),
            0x9F37: self.unpredictable_number, 0x95: self.tvr,
            0x9F35: bytes([terminal.terminal_type]), 0x9F33: terminal.capabilities,
        }
