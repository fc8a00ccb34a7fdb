"""The settlement account paying down the virtual account.

After money leaves the virtual account (an order released, a bill paid) the virtual account
may be below zero: credit in use. The settlement account repays as much of that as it holds,
in the same transaction; what it then lacks is the bank's to top up (:mod:`.topups`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from host.backoffice.assets import Asset
from host.backoffice.centre.holders import Holder
from host.backoffice.ledger import Ledger
from host.backoffice.posting import AccountState
from host.backoffice.schema import ledger_accounts
from host.backoffice.transfers import Reason, Source, SourceKind, Transfer

__all__ = ["repay"]


def repay(conn: Connection, ledger: Ledger, holder: Holder, key: str, *, at: datetime) -> int:
    """Move what the settlement account can spare to cover the virtual account's debt;
    ``key`` names the event (the transfer id derives from it). Returns the amount moved."""
    rows = ledger.db.lock_rows(conn, ledger_accounts, [holder.virtual, holder.settlement])
    states = {s.id: s.balance() for s in map(AccountState.from_row, rows)}
    debt = max(0, -states[holder.virtual].posted)
    amount = min(debt, states[holder.settlement].available)
    if amount <= 0:
        return 0
    ledger.apply(conn, [Transfer.single(
        f"sc:repay:{key}", holder.settlement, holder.virtual, amount, Asset.CNY,
        Reason.REPAYMENT, Source(SourceKind.SYSTEM, "centre"),
    )], at=at, all_or_nothing=True)
    return amount
