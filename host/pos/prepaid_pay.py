"""A prepaid payment at the issuing merchant's till (F13–F16): the holder pays from the
prepaid network account linked to their dual-chip card, drawn from its sub-cards as one.

Chip 1 identifies the holder (the application read, the PIN verified offline by the card's
VERIFY when its CVM list asks for one, as for a sale); nothing is charged on the chip. The
payment itself is online: the back office maps the card to the holder's account of this
merchant's program and draws the cards (:class:`~.link.PrepaidLink`). The request id is
the terminal's and the journal's transaction id, written before the request leaves, so
sending it again after a lost answer posts once: a payment left without an answer stays at
the stage ``prepaid sent`` (with the card and program it was for), and the terminal's
reconcile sends it again (:func:`resend_prepaid`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from apdu_specs.errors import DualcardError
from host.payment.terminal import TransactionData

from .chip_payment import ChipPayment
from .context import CardClients, TerminalContext
from .errors import POSUsageError
from .link import PrepaidLink, PrepaidPayment
from .records import TxnKind, TxnStatus
from .sale import card_identity

__all__ = ["SENT", "pay_prepaid", "prepaid_request_id", "resend_prepaid"]

#: the journal stage of a prepaid payment sent and not yet answered
SENT = "prepaid sent"


def prepaid_request_id(ctx: TerminalContext, txn_id: str) -> str:
    """The back office's request id of this terminal's transaction ``txn_id``."""
    return f"pos-{ctx.merchant.terminal_hex}-{txn_id}"


def pay_prepaid(ctx: TerminalContext, card: CardClients, amount: int, *, pin: str | None,
                program: str | None = None) -> dict[str, Any]:
    """Identify the holder on chip 1, then pay online; the journal's summary of it."""
    link = ctx.link
    if not isinstance(link, PrepaidLink):
        raise POSUsageError(f"{link!r} takes no prepaid payments")
    if amount <= 0:
        raise POSUsageError("a prepaid payment is for a positive amount")
    when = ctx.now()
    txn_id = ctx.journal.begin(TxnKind.PREPAID, amount, when, {})
    summary: dict[str, Any] = {"txn_id": txn_id, "kind": TxnKind.PREPAID.value,
                               "amount": amount, "when": when.isoformat()}
    chip = ChipPayment(card.payment, ctx.profile,
                       TransactionData(amount, ctx.unpredictable(), when.date()))
    holder = replace(chip.open(), card_id=card_identity(card))
    check = chip.verify_pin(pin)
    summary.update(holder=holder.to_dict(), pin=check.status,
                   **({"program": program} if program is not None else {}))
    if holder.card_id is None or not (check.verified or not check.asked):
        why = "the card has no identity" if holder.card_id is None else f"PIN {check.status}"
        return _finish(ctx, summary, TxnStatus.DECLINED, f"declined: {why}")
    ctx.journal.update(txn_id, stage=SENT, when=ctx.now(), summary=summary)
    try:
        paid = _send(ctx, link, txn_id, holder.card_id, amount, program)
    except ConnectionError as exc:  # the outcome is unknown: reconcile sends it again
        summary.update(status=TxnStatus.INCOMPLETE.value,
                       message=f"no answer: {exc}; reconcile sends it again")
        ctx.journal.update(txn_id, stage=SENT, when=ctx.now(), status=TxnStatus.INCOMPLETE,
                           summary=summary)
        raise
    except DualcardError as exc:
        _finish(ctx, summary, TxnStatus.DECLINED, f"declined: {exc}")
        raise
    summary["prepaid"] = paid.to_dict()
    return _finish(ctx, summary, TxnStatus.APPROVED, "paid from the prepaid account")


def resend_prepaid(ctx: TerminalContext, txn_id: str) -> tuple[TxnStatus, str]:
    """Send a payment left at :data:`SENT` again, under its first request id (the back office
    answers the first payment if it had posted it); its status and message once answered.
    Raises :class:`ConnectionError` while there is still no answer (it stays at ``SENT``)."""
    entry = ctx.journal.entry(txn_id)
    summary = dict(entry.summary)
    link = ctx.link
    if not isinstance(link, PrepaidLink):
        raise POSUsageError(f"{link!r} takes no prepaid payments")
    try:
        paid = _send(ctx, link, txn_id, summary["holder"]["card_id"], entry.amount,
                     summary.get("program"))
    except ConnectionError:
        raise
    except DualcardError as exc:
        _finish(ctx, summary, TxnStatus.DECLINED, f"declined: {exc}")
        return TxnStatus.DECLINED, str(exc)
    summary["prepaid"] = paid.to_dict()
    _finish(ctx, summary, TxnStatus.APPROVED, "paid from the prepaid account (reconciled)")
    return TxnStatus.APPROVED, f"{paid.charged} fen from {paid.account}"


def _send(ctx: TerminalContext, link: PrepaidLink, txn_id: str, card_id: str, amount: int,
          program: str | None) -> PrepaidPayment:
    return link.pay_prepaid(request_id=prepaid_request_id(ctx, txn_id), card_id=card_id,
                            amount=amount, merchant_id=ctx.merchant.merchant_id,
                            program=program)


def _finish(ctx: TerminalContext, summary: dict[str, Any], status: TxnStatus,
            message: str) -> dict[str, Any]:
    summary.update(status=status.value, message=message)
    ctx.journal.update(summary["txn_id"], stage="done", when=ctx.now(), status=status,
                       summary=summary)
    return summary

