"""Typed errors of the POS library.

Outcomes a terminal expects (a wrong PIN, a decline, a referral) are results, not
errors. What raises is what must never be ignored: a card that rejects the issuer's
answer, a points movement whose MAC does not verify, a transaction cut short by the
card going away (the journal already holds what is needed to reconcile it), or a
terminal used the wrong way.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "ARPCRejectedError",
    "FallbackNotAllowedError",
    "JournalError",
    "POSError",
    "POSUsageError",
    "PointsProofError",
    "StripeReadError",
    "TransactionInterruptedError",
]


class POSError(DualcardError):
    """Base of the POS library's errors."""


class POSUsageError(POSError, LocalError):
    """The terminal was configured or called the wrong way (a bad amount, merchant or
    configuration file, a step out of order)."""


class ARPCRejectedError(POSError, RemoteError):
    """The card refused the issuer's authentication data (ARPC): the issuer or the link is
    not genuine, or the answer was altered. The transaction is declined and recorded."""

    def __init__(self, txn_id: str, message: str) -> None:
        self.txn_id = txn_id
        super().__init__(f"transaction {txn_id}: {message}")


class PointsProofError(POSError, RemoteError):
    """A points movement's MAC2 or TAC does not verify: the card or a host is not genuine.
    Nothing is awarded on the terminal's word; the journal keeps the attempt."""

    def __init__(self, txn_id: str, message: str) -> None:
        self.txn_id = txn_id
        super().__init__(f"transaction {txn_id}: {message}")


class TransactionInterruptedError(POSError, RemoteError):
    """The card went away (pulled out, mute) before the transaction finished.

    The journal already records the transaction with its stage; ``partial`` is what the
    terminal knows so far (a sale may be approved with its points still unproven).
    :meth:`~host.pos.terminal.Terminal.reconcile` settles it once the card is back.
    """

    def __init__(self, txn_id: str, stage: str, cause: str, partial: Any = None) -> None:
        self.txn_id = txn_id
        self.stage = stage
        self.partial = partial
        super().__init__(f"transaction {txn_id} interrupted during {stage}: {cause}")


class FallbackNotAllowedError(POSError, LocalError):
    """The stripe may not be used: the card has a chip and the chip did not fail, or the
    service code forbids the transaction."""


class StripeReadError(POSError, RemoteError):
    """What the stripe reader produced cannot be decoded into track 2."""


class JournalError(POSError, LocalError):
    """The terminal journal cannot be opened or holds something it cannot read."""
