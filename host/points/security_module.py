"""The terminal's purchase security module (PSAM): MAC1 for the card, and MAC2 checked.

In the field a PSAM in the terminal holds the purchase master key, diversifies the
card's DPK, numbers the terminal's transactions and computes MAC1; it then checks the
card's MAC2, which proves the debit happened. :class:`PurchaseSecurityModule` is that
interface, so a PSAM or an HSM drops in where :class:`SoftwarePurchaseSAM` (keys in
process memory, for tests and back-office tools) stands now.

Like a PSAM, a module is stateful: it keeps the session of its latest MAC1 until the
next one, so MAC2 — from DEBIT FOR PURCHASE, or from GET TRANSACTION PROVE after a
tear — is checked against the transaction it belongs to.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.errors import MACError
from apdu_specs.crypto.purse import PurseScheme, transaction_time

from .errors import PointsUsageError, PurseMACError
from .keys import PurseKeySource
from .load_host import check_card_keys
from .messages import PurchaseInit

__all__ = ["PurchaseAuthorization", "PurchaseSecurityModule", "SoftwarePurchaseSAM",
           "check_purchase", "check_terminal"]

PURCHASE = TransactionType.PURCHASE
_SEQ_MAX = 0xFFFFFFFF


@dataclass(frozen=True)
class PurchaseAuthorization:
    """MAC1 for one purchase, with the terminal sequence number and time it covers."""

    terminal_seq: int
    when: _dt.datetime
    mac1: bytes

    @property
    def time_bytes(self) -> bytes:
        return transaction_time(self.when)


@runtime_checkable
class PurchaseSecurityModule(Protocol):
    """What a terminal needs from its PSAM to spend points on a card."""

    @property
    def terminal_id(self) -> bytes:
        """The 6-byte terminal ID the module is bound to."""
        ...

    def key_index(self, card_identity: str, purse: Purse) -> int:
        """The key index INITIALIZE FOR PURCHASE must name for this card's purse."""
        ...

    def authorize_purchase(self, card_identity: str, init: PurchaseInit,
                           when: _dt.datetime) -> PurchaseAuthorization:
        """Number the transaction and compute MAC1 for DEBIT FOR PURCHASE."""
        ...

    def verify_mac2(self, mac2: bytes) -> None:
        """Raise :class:`PurseMACError` unless ``mac2`` proves the latest authorised debit."""
        ...


def check_terminal(terminal_id: bytes, next_terminal_seq: int) -> None:
    """A purchase SAM's terminal ID (6 bytes) and next sequence number (4 bytes)."""
    if len(terminal_id) != 6:
        raise PointsUsageError("a terminal ID is 6 bytes")
    if not 0 <= next_terminal_seq <= _SEQ_MAX:
        raise PointsUsageError("the terminal sequence number is 4 bytes")


def check_purchase(init: PurchaseInit, terminal_id: bytes, next_terminal_seq: int) -> None:
    """What a SAM checks before it numbers a purchase: initialised for its terminal, and a
    sequence number left to give it."""
    if init.terminal_id != terminal_id:
        raise PointsUsageError("the purchase was initialised for another terminal")
    if next_terminal_seq > _SEQ_MAX:
        raise PointsUsageError("the terminal sequence number is exhausted")


@dataclass(frozen=True)
class _Pending:
    scheme: PurseScheme
    sespk: bytes
    amount: int

    def __repr__(self) -> str:
        return f"_Pending({self.scheme.algorithm.value}, amount={self.amount})"


class SoftwarePurchaseSAM:
    """A purchase security module in software, over any :class:`PurseKeySource`."""

    def __init__(self, keys: PurseKeySource, terminal_id: bytes, *,
                 next_terminal_seq: int = 1) -> None:
        check_terminal(terminal_id, next_terminal_seq)
        self._keys = keys
        self._terminal_id = bytes(terminal_id)
        self.next_terminal_seq = next_terminal_seq
        self._pending: _Pending | None = None

    @property
    def terminal_id(self) -> bytes:
        return self._terminal_id

    def key_index(self, card_identity: str, purse: Purse) -> int:
        return self._keys.card_keys(card_identity, purse).key_index

    def authorize_purchase(self, card_identity: str, init: PurchaseInit,
                           when: _dt.datetime) -> PurchaseAuthorization:
        check_purchase(init, self._terminal_id, self.next_terminal_seq)
        keys = self._keys.card_keys(card_identity, init.purse)
        check_card_keys(keys, init)
        scheme, seq = keys.scheme, self.next_terminal_seq
        sespk = scheme.purchase_session_key(keys.cipher("dpk"), init.random, init.offline_seq, seq)
        mac1 = scheme.purchase_mac1(sespk, init.amount, PURCHASE, self._terminal_id,
                                    transaction_time(when))
        self.next_terminal_seq = seq + 1
        self._pending = _Pending(scheme, sespk, init.amount)
        return PurchaseAuthorization(seq, when, mac1)

    def verify_mac2(self, mac2: bytes) -> None:
        pending = self._pending
        if pending is None:
            raise PointsUsageError("no purchase authorised: nothing to check MAC2 against")
        try:
            pending.scheme.verify(pending.sespk, pending.scheme.purchase_mac2_data(pending.amount),
                                  mac2, what="MAC2")
        except MACError:
            raise PurseMACError("the card's MAC2 is wrong: the debit is not proven") from None

    def __repr__(self) -> str:
        return f"SoftwarePurchaseSAM(terminal {self._terminal_id.hex().upper()})"
