"""Points spent from chip 2 (F5, F20): at the merchant, for money, or for a premium.

The terminal's security module (PSAM) authorises the debit; the MAC1 it issues is
journaled before DEBIT FOR PURCHASE goes to the card, and the card's MAC2 proves the
debit. Points spent at the merchant become a ``purchase`` record of the batch; points
converted by the bank or paying an insurer's premium are redeemed online at once
(idempotent by the transaction's redemption id), after the card has proven the debit.
"""

from __future__ import annotations

from apdu_specs.commands.purse_data import Purse
from apdu_specs.sw import SW, CardError
from host.points.client import PendingPurchase
from host.points.errors import PurseMACError, TransactionInterrupted, WrongPINError
from host.records.batch import Record
from host.records.errors import BackOfficeError
from host.transport.base import TransportError

from .batch import spend_record
from .context import CardClients, TerminalContext
from .errors import PointsProofError, TransactionInterruptedError
from .pending import pending_to_dict
from .points_hosts import JournalingSAM
from .records import Holder, PointsMovement, PointsResult, TxnKind, TxnStatus

__all__ = ["SPEND_SLOT", "mask_identity", "redemption_id", "spend_points"]

SPEND_SLOT = "spend"

_REFUSALS: dict[int, str] = {SW.PURSE_INSUFFICIENT_BALANCE: "not enough points on the card"}


def mask_identity(card_id: str) -> str:
    """A card identity as a slip shows it: first six and last four digits."""
    return card_id[:6] + "*" * max(len(card_id) - 10, 0) + card_id[-4:]


def redemption_id(ctx: TerminalContext, txn_id: str) -> str:
    """The back office's idempotency key of a redemption made by this transaction."""
    return f"pos/{ctx.merchant.terminal_hex}/{txn_id}"


def _save(ctx: TerminalContext, result: PointsResult, stage: str, *,
          status: TxnStatus | None = None, error: str | None = None, records: tuple[Record, ...] = (),
          clear_slot: str | None = None) -> None:
    if status is not None:
        result.status = status
    ctx.journal.update(result.txn_id, stage=stage, when=ctx.now(), status=status,
                       summary=result.to_dict(), error=error, records=records,
                       clear_slot=clear_slot)


def spend_points(ctx: TerminalContext, card: CardClients, kind: TxnKind, purse: Purse,
                 points: int, *, pin: str | None = None, insurer_id: str | None = None,
                 policy: str | None = None) -> PointsResult:
    """Debit ``points`` from ``purse`` and, for a conversion or premium, redeem them."""
    when = ctx.now()
    txn_id = ctx.journal.begin(kind, points, when, {"purse": purse.label})
    result = PointsResult(txn_id, kind, TxnStatus.STARTED, purse, points, when,
                          insurer_id=insurer_id, policy=policy)
    try:
        card_id = card.points.card_identity
        result.holder = Holder(mask_identity(card_id), "", "POINTS", None, card_id)
        _save(ctx, result, "card read")
        if pin is not None:
            card.points.verify_pin(pin)

        def journal_pending(pending: PendingPurchase) -> None:
            ctx.journal.set_pending(txn_id, SPEND_SLOT, pending_to_dict(pending))

        sam = JournalingSAM(ctx.sam, journal_pending)
        record = card.points.purchase(purse, points, sam,  # type: ignore[arg-type]
                                      when=ctx.card_time(when))
    except WrongPINError as exc:
        result.message = f"wrong PIN, {exc.tries_left} tries left"
        _save(ctx, result, "done", status=TxnStatus.DECLINED)
        return result
    except CardError as exc:
        result.message = _REFUSALS.get(exc.sw, f"refused by the card: {exc}")
        _save(ctx, result, "done", status=TxnStatus.DECLINED, error=str(exc),
              clear_slot=SPEND_SLOT)
        return result
    except (TransactionInterrupted, TransportError) as exc:
        _save(ctx, result, "debit interrupted", status=TxnStatus.INCOMPLETE, error=str(exc))
        raise TransactionInterruptedError(txn_id, "points debit", str(exc), result) from exc
    except PurseMACError as exc:
        _save(ctx, result, "debit unproven", status=TxnStatus.INCOMPLETE, error=str(exc))
        raise PointsProofError(txn_id, str(exc)) from exc
    result.movement = PointsMovement(purse, -points, record.balance_after, record.tac)
    result.debit = spend_record(txn_id, record)
    if kind is TxnKind.POINTS:
        result.message = "points spent"
        _save(ctx, result, "done", status=TxnStatus.APPROVED,
              records=(spend_record(txn_id, record),), clear_slot=SPEND_SLOT)
        return result
    _save(ctx, result, "debited", clear_slot=SPEND_SLOT)
    redeem(ctx, result)
    return result


def redeem(ctx: TerminalContext, result: PointsResult) -> None:
    """Redeem debited points online; a failure leaves the stage ``redeem pending``."""
    if result.holder is None or result.holder.card_id is None:
        raise ValueError("a redemption needs the card identity")
    if result.debit is None:
        raise ValueError("a redemption needs the card's debit")
    try:
        result.redemption = ctx.link.redeem(
            redemption_id=redemption_id(ctx, result.txn_id), card_id=result.holder.card_id,
            purse=result.purse, points=result.points, at=result.when, debit=result.debit,
            insurer_id=result.insurer_id, policy=result.policy)
    except (BackOfficeError, OSError) as exc:
        result.message = f"points debited; redemption pending: {exc}"
        _save(ctx, result, "redeem pending", status=TxnStatus.INCOMPLETE, error=str(exc))
        raise
    result.message = "premium paid" if result.insurer_id else "points converted"
    _save(ctx, result, "done", status=TxnStatus.APPROVED)
