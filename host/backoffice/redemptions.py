"""What pays for a redemption: one card debit, proven by its TAC, used once (docs/trust.md).

Points converted into money or paying a premium (F5, F20) must first leave the card: the
terminal's DEBIT FOR PURCHASE, whose TAC covers the amount, the terminal, the terminal's
sequence and the time, and whose key names the card and the purse. A redemption request
carries that debit; the back office keys the conversion by it
(:func:`redemption_id_of`), so a debit pays for one redemption however often the request
is sent, and a debit that paid for a redemption is never also cleared as points spent at a
merchant (nor the other way round).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from apdu_specs.errors import RemoteError
from host.backoffice.database import Database
from host.backoffice.errors import BackOfficeError
from host.backoffice.schema import bo_card_records, ledger_transfers
from host.backoffice.verifier import CardVerifier
from host.records.assets import Asset
from host.records.batch import PurseRecord

__all__ = ["RedemptionRefusedError", "check_debit", "debit_cleared", "redeemed_debits",
           "redemption_id_of"]


class RedemptionRefusedError(BackOfficeError, RemoteError):
    """The card debit offered does not pay for this redemption; the message says why (a
    refusal of the terminal's claim, so a :class:`RemoteError`)."""


def redemption_id_of(debit: PurseRecord) -> str:
    """The conversion id of the redemption ``debit`` pays for (one per card debit)."""
    return f"debit/{debit.card_id}/{debit.txn_key}"


def _first_leg(debit: PurseRecord) -> str:
    """The id of the conversion's first transfer (:mod:`.conversion` names its legs)."""
    return f"{redemption_id_of(debit)}/points"


def check_debit(debit: PurseRecord, *, card_id: str, asset: Asset, points: int,
                terminal_id: str | None, verifier: CardVerifier) -> str | None:
    """Why ``debit`` does not pay for ``points`` of ``asset`` from ``card_id`` (None if it
    does); ``terminal_id`` is the terminal the link serves, when it knows it."""
    if debit.kind != "purchase":
        return "not_a_card_debit"
    if (debit.card_id, debit.purse, debit.amount) != (card_id, asset, points):
        return "debit_differs_from_request"
    if terminal_id is not None and debit.terminal_id.hex().upper() != terminal_id:
        return "debit_made_at_another_terminal"
    if not verifier.verify_purse_tac(debit):
        return "bad_tac"
    return None


def debit_cleared(conn: Connection, debit: PurseRecord) -> bool:
    """Whether ``debit`` was cleared as points spent at a merchant."""
    c = bo_card_records.c
    return conn.execute(select(c.seq).where(
        c.card_id == debit.card_id, c.txn_key == debit.txn_key)).first() is not None


def redeemed_debits(db: Database, conn: Connection,
                    debits: Iterable[PurseRecord]) -> frozenset[tuple[str, str]]:
    """(card id, txn key) of those ``debits`` that already paid for a redemption."""
    by_leg = {_first_leg(d): (d.card_id, d.txn_key) for d in debits}
    rows = db.rows_where_in(conn, ledger_transfers, ("id",), "id", sorted(by_leg))
    return frozenset(by_leg[row.id] for row in rows)
