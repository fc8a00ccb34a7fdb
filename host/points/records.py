"""A points movement as the card proved it, and the back office's TAC check.

The TAC covers different fields for the two kinds of movement (domain-facts §5.4):

- load: balance after, online sequence number (before the load), amount, type,
  terminal ID, date-time;
- purchase: amount, type, terminal ID, terminal sequence number, date-time.

The purse is not a TAC field; it is bound by the TAC key, which is diversified per
purse (:mod:`.keys`). Fields a TAC does not cover (a purchase's balance after and
offline sequence number, a load's terminal sequence number) are informational.
"""

from __future__ import annotations

import datetime as _dt
import hmac
from dataclasses import dataclass

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.purse import PurseScheme, transaction_time
from apdu_specs.errors import ProtocolError

from .keys import diversify_purse_key

__all__ = ["PurseRecord", "expected_tac", "verify_tac"]


@dataclass(frozen=True)
class PurseRecord:
    """One load or purchase on one purse of one card, with the card's TAC."""

    card_id: str
    purse: Purse
    txn_type: TransactionType
    amount: int
    balance_after: int
    #: online (load) or offline (purchase) sequence number the movement used
    card_seq: int
    terminal_id: bytes
    #: the terminal's transaction sequence number (0 for loads)
    terminal_seq: int
    when: _dt.datetime
    tac: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "purse", Purse(self.purse))
        object.__setattr__(self, "txn_type", TransactionType(self.txn_type))

    @property
    def time_bytes(self) -> bytes:
        """The 7 BCD bytes of :attr:`when`, as the card saw them."""
        return transaction_time(self.when)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready fields (hex for bytes, ISO 8601 for the date-time)."""
        return {"card_id": self.card_id, "purse": self.purse.label,
                "type": self.txn_type.name.lower(),
                "amount": self.amount, "balance_after": self.balance_after,
                "card_seq": self.card_seq, "terminal_id": self.terminal_id.hex().upper(),
                "terminal_seq": self.terminal_seq, "when": self.when.isoformat(),
                "tac": self.tac.hex().upper()}


def expected_tac(record: PurseRecord, dtk: bytes, algorithm: Algorithm) -> bytes:
    """The TAC a card with TAC key ``dtk`` computes for ``record``'s movement."""
    scheme = PurseScheme(algorithm)
    key = scheme.tac_key(dtk)
    if record.txn_type is TransactionType.LOAD:
        return scheme.load_tac(key, record.balance_after, record.card_seq, record.amount,
                               TransactionType.LOAD, record.terminal_id, record.time_bytes)
    return scheme.purchase_tac(key, record.amount, TransactionType.PURCHASE, record.terminal_id,
                               record.terminal_seq, record.time_bytes)


def verify_tac(card_identity: str, record: PurseRecord, *, tac_master_key: bytes,
               algorithm: Algorithm = Algorithm.AES) -> bool:
    """True if ``record.tac`` is the TAC of card ``card_identity`` for this movement.

    Pure: diversifies the card's DTK for the record's purse from the issuer's TAC master
    key and recomputes. Answers False (never raises) for a forged, altered or malformed
    record, or one of another card; raises only for an unusable master key.
    """
    if record.card_id != card_identity:
        return False
    try:
        dtk = diversify_purse_key(tac_master_key, card_identity, record.purse, algorithm)
    except ProtocolError:
        return False  # a malformed card identity
    try:
        tac = expected_tac(record, dtk, algorithm)
    except (CryptoError, ValueError, TypeError):
        return False
    return isinstance(record.tac, bytes) and hmac.compare_digest(tac, record.tac)
