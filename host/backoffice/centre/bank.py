"""The bank behind a holder's settlement account (F25's third tier), as an adapter.

The centre asks the bank for money with :meth:`BankGateway.debit`: a request id, the
holder's account at the bank and an amount. The bank must treat the request id as an
idempotency key (the same id asked twice moves money once and answers the same), which is
what lets the centre ask again after a crash without fear of a double top-up. A real bank
gateway (an open-banking API, a direct-debit file) implements this one method; a gateway
that cannot be reached raises :class:`~.errors.BankUnavailableError`.

:class:`SimulatedBank` keeps its customers' accounts on a ledger of its own (``simbank:*``
accounts, here in the same database so the command line and the tests can share it): a
debit is one transfer from the customer's account, refused below zero.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol

from host.backoffice.accounts import AccountSpec
from host.backoffice.assets import Asset, check_amount
from host.backoffice.clock import to_micros
from host.backoffice.ledger import Ledger
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer, TransferCode

__all__ = ["BankAnswer", "BankGateway", "SimulatedBank"]


class BankAnswer(NamedTuple):
    accepted: bool
    reference: str  #: the bank's reference of the movement (or of the refusal)
    reason: str  #: why it was refused ("" when accepted)


class BankGateway(Protocol):
    """What the centre needs of a bank."""

    def debit(self, request_id: str, bank_account: str, amount: int, *,
              at: datetime) -> BankAnswer: ...


_PREFIX = "simbank"
_OUT = f"{_PREFIX}:outgoing"
_REFUSALS = {
    TransferCode.EXCEEDS_LOWER_BOUND: "insufficient funds",
    TransferCode.DEBIT_ACCOUNT_NOT_FOUND: "no such account",
}


class SimulatedBank:
    """A bank for tests and the demo; see the module docstring."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @staticmethod
    def account(bank_account: str) -> str:
        return f"{_PREFIX}:{bank_account}"

    def open_account(self, bank_account: str, *, deposit: int, at: datetime) -> None:
        """Open a customer's account (idempotent) holding ``deposit`` fen more."""
        check_amount(deposit, allow_zero=True, what="deposit")
        self.ledger.create_accounts([
            AccountSpec(_OUT, Asset.CNY, "simbank", _PREFIX, None),
            AccountSpec(f"{_PREFIX}:cash", Asset.CNY, "simbank", _PREFIX, None),
            AccountSpec(self.account(bank_account), Asset.CNY, "simbank", _PREFIX, 0),
        ], at=at)
        if deposit:
            self.ledger.post_all([Transfer.single(
                f"simbank-deposit/{bank_account}/{to_micros(at)}",
                f"{_PREFIX}:cash", self.account(bank_account), deposit, Asset.CNY,
                Reason.DEPOSIT, Source(SourceKind.SYSTEM, _PREFIX),
            )], at=at)

    def balance(self, bank_account: str) -> int:
        return self.ledger.account(self.account(bank_account)).balance.posted

    def debit(self, request_id: str, bank_account: str, amount: int, *,
              at: datetime) -> BankAnswer:
        reference = f"simbank/{request_id}"
        [result] = self.ledger.create_transfers([Transfer.single(
            reference, self.account(bank_account), _OUT, amount, Asset.CNY, Reason.WITHDRAWAL,
            Source(SourceKind.SYSTEM, _PREFIX),
        )], at=at)
        if result.ok:
            return BankAnswer(True, reference, "")
        return BankAnswer(False, reference, _REFUSALS.get(result.code, result.code.value))
