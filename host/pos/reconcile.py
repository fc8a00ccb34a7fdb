"""Finishing what a pulled card or a lost connection left open.

The journal tells, for every unfinished transaction, how far it got:

- a chip 2 movement sent but never answered (``pos_pending``): with the same card back
  in the reader, GET TRANSACTION PROVE says whether it happened (PointsClient's
  ``recover_load`` / ``recover_purchase``). A load that happened becomes its load record,
  a spend its spend record; one that did not is dropped. A spend the card reports but the
  security module can no longer confirm (it has authorised another since) is left for the
  back office, never guessed;
- a chip 1 payment cut before its final cryptogram: nothing was charged (no TC), so the
  transaction is voided — no card needed;
- a redemption whose points left the card but whose online call failed: it is sent
  again with the same redemption id (the back office answers ``exists`` if it had it);
- a prepaid payment sent but never answered: it is sent again with the same request id
  (the back office answers the first payment if it had posted it, and posts it otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.sw import CardError
from host.points.client import PendingPurchase
from host.points.errors import PointsError
from host.points.load_host import LoadAuthorization
from host.records.batch import PurseRecord as BatchPurseRecord
from host.records.batch import parse_record, record_to_dict
from host.records.errors import BackOfficeError
from host.transport.base import TransportError

from .batch import load_record, spend_record
from .context import CardClients, TerminalContext
from .journal import JournalEntry, PendingEntry
from .pending import pending_from_dict
from .points_hosts import LinkLoadHost
from .points_spend import SPEND_SLOT, redemption_id
from .prepaid_pay import SENT, resend_prepaid
from .records import PointsMovement, TxnKind, TxnStatus

__all__ = ["ReconcileOutcome", "reconcile"]


@dataclass(frozen=True)
class ReconcileOutcome:
    txn_id: str
    action: str  #: "completed", "not done", "voided", "redeemed", "unconfirmed", "waiting"
    detail: str = ""


def reconcile(ctx: TerminalContext, card: CardClients | None) -> list[ReconcileOutcome]:
    """Settle every unfinished transaction this card (if any) or the journal alone can."""
    outcomes = [_void_payment(ctx, e) for e in ctx.journal.entries(status=TxnStatus.INCOMPLETE)
                if e.kind is TxnKind.SALE and e.stage == "chip interrupted"]
    pending = ctx.journal.pending()
    identity = None
    if card is not None and pending:
        try:
            identity = card.points.select().identity
        except (CardError, PointsError, TransportError):
            identity = None
    for entry in pending:
        movement = pending_from_dict(entry.body)
        if identity is None or movement.card_identity != identity:
            outcomes.append(ReconcileOutcome(entry.txn_id, "waiting",
                                             f"needs card {movement.card_identity}"))
        elif isinstance(movement, LoadAuthorization):
            outcomes.append(_recover_load(ctx, card, entry, movement))  # type: ignore[arg-type]
        else:
            outcomes.append(_recover_spend(ctx, card, entry, movement))  # type: ignore[arg-type]
    outcomes += [_retry_redemption(ctx, e) for e in ctx.journal.entries()
                 if e.stage == "redeem pending"]
    outcomes += [_retry_prepaid(ctx, e.txn_id) for e in ctx.journal.entries()
                 if e.kind is TxnKind.PREPAID and e.stage == SENT]
    return outcomes


def _retry_prepaid(ctx: TerminalContext, txn_id: str) -> ReconcileOutcome:
    try:
        status, detail = resend_prepaid(ctx, txn_id)
    except ConnectionError as exc:
        return ReconcileOutcome(txn_id, "waiting", f"prepaid payment still unanswered: {exc}")
    if status is TxnStatus.APPROVED:
        return ReconcileOutcome(txn_id, "completed", f"prepaid payment answered: {detail}")
    return ReconcileOutcome(txn_id, "not done", f"prepaid payment refused: {detail}")


def _void_payment(ctx: TerminalContext, entry: JournalEntry) -> ReconcileOutcome:
    ctx.journal.update(entry.txn_id, stage="done", when=ctx.now(), status=TxnStatus.VOIDED,
                       summary={**entry.summary, "status": TxnStatus.VOIDED.value,
                                "message": "voided: no final cryptogram, nothing charged"})
    return ReconcileOutcome(entry.txn_id, "voided", "chip 1 never gave a final cryptogram")


def _retry_redemption(ctx: TerminalContext, entry: JournalEntry) -> ReconcileOutcome:
    summary = entry.summary
    holder = summary.get("holder") or {}
    debit = parse_record(summary.get("debit"), ctx.merchant.terminal_hex)
    if not isinstance(debit, BatchPurseRecord):
        return ReconcileOutcome(entry.txn_id, "waiting", "the journal holds no card debit")
    try:
        receipt = ctx.link.redeem(
            redemption_id=redemption_id(ctx, entry.txn_id), card_id=holder["card_id"],
            purse=Purse.named(summary["purse"]), points=summary["points"], at=entry.created_at,
            debit=debit,
            insurer_id=summary.get("insurer_id"), policy=summary.get("policy"))
    except (BackOfficeError, OSError) as exc:
        return ReconcileOutcome(entry.txn_id, "waiting", f"redemption still refused: {exc}")
    summary = {**summary, "status": TxnStatus.APPROVED.value, "message": "redeemed late",
               "redemption": {"id": receipt.redemption_id, "status": receipt.status,
                              "points": receipt.points, "fen": receipt.fen,
                              "target": receipt.target}}
    ctx.journal.update(entry.txn_id, stage="done", when=ctx.now(), status=TxnStatus.APPROVED,
                       summary=summary)
    return ReconcileOutcome(entry.txn_id, "redeemed", receipt.status)


def _recover_load(ctx: TerminalContext, card: CardClients, entry: PendingEntry,
                  authorization: LoadAuthorization) -> ReconcileOutcome:
    record = card.points.recover_load(authorization,
                                      LinkLoadHost(ctx.link))  # type: ignore[arg-type]
    journal = ctx.journal.entry(entry.txn_id)
    if record is None:
        ctx.journal.update(entry.txn_id, stage="done", when=ctx.now(), clear_slot=entry.slot,
                           summary=journal.summary)
        return ReconcileOutcome(entry.txn_id, "not done", f"{entry.slot}: never credited")
    context = entry.body.get("context", {})
    movement = PointsMovement(record.purse, record.amount, record.balance_after, record.tac,
                              context.get("issuer_id"))
    summary = {**journal.summary,
               "points": [*journal.summary.get("points", []), movement.to_dict()]}
    batch_record = load_record(entry.txn_id, record,
                               purchase_fen=int(context.get("purchase_fen", 0)),
                               issuer_id=str(context.get("issuer_id", "")),
                               payment_ref=context.get("payment_ref"),
                               authorisation_ref=context.get("authorisation_ref"))
    ctx.journal.update(entry.txn_id, stage="done", when=ctx.now(), summary=summary,
                       records=(batch_record,), clear_slot=entry.slot)
    return ReconcileOutcome(entry.txn_id, "completed", f"{entry.slot}: credited")


def _recover_spend(ctx: TerminalContext, card: CardClients, entry: PendingEntry,
                   pending: PendingPurchase) -> ReconcileOutcome:
    journal = ctx.journal.entry(entry.txn_id)
    init = pending.init
    proof = card.points.transaction_proof(init.purse, TransactionType.PURCHASE,
                                             init.offline_seq)
    if proof is None:
        ctx.journal.update(entry.txn_id, stage="done", when=ctx.now(), status=TxnStatus.VOIDED,
                           clear_slot=SPEND_SLOT,
                           summary={**journal.summary, "status": TxnStatus.VOIDED.value,
                                    "message": "voided: the card never debited the points"})
        return ReconcileOutcome(entry.txn_id, "voided", "the card has no such debit")
    record = card.points.recover_purchase(pending, ctx.sam)
    if record is None:
        return ReconcileOutcome(entry.txn_id, "unconfirmed",
                                "the card reports a debit the security module cannot confirm")
    movement = PointsMovement(record.purse, -record.amount, record.balance_after, record.tac)
    summary = {**journal.summary, "movement": movement.to_dict()}
    if journal.kind is TxnKind.POINTS:
        summary.update(status=TxnStatus.APPROVED.value, message="points spent (reconciled)")
        ctx.journal.update(entry.txn_id, stage="done", when=ctx.now(), status=TxnStatus.APPROVED,
                           summary=summary, records=(spend_record(entry.txn_id, record),),
                           clear_slot=SPEND_SLOT)
    else:  # a conversion or premium: the points left the card, now redeem them
        summary["debit"] = record_to_dict(spend_record(entry.txn_id, record))
        ctx.journal.update(entry.txn_id, stage="redeem pending", when=ctx.now(),
                           summary=summary, clear_slot=SPEND_SLOT)
    return ReconcileOutcome(entry.txn_id, "completed", "debit proven by the card")
