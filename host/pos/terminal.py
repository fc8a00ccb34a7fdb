"""The POS terminal: one object over a dual-chip card in any reader (F7, F8, F18, F24).

    terminal = Terminal(chip1, chip2, merchant=MerchantIdentity("shop-a", TID, "SHOP A"),
                        backoffice=link, sam=SoftwarePurchaseSAM(keys, TID))
    sale = terminal.purchase(12_34, pin="1234", method=PaymentMethod.CREDIT)
    print(terminal.receipt(sale.txn_id))

``chip1`` and ``chip2`` are any :class:`~host.transport.base.Transport` (PC/SC readers'
slots, or the in-process simulator); :meth:`Terminal.over` takes a
:class:`~host.connect.CardLink`. Every transaction is journaled before the holder sees
its outcome (:mod:`.journal`); :meth:`upload` sends the terminal batch to the back
office, safe to repeat; :meth:`reconcile` finishes what a pulled card left open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from apdu_specs.commands.purse_data import Purse
from host.connect import CardLink
from host.payment.terminal import TerminalProfile, TransactionData
from host.points.security_module import PurchaseSecurityModule
from host.records.errors import BatchRejectedError
from host.transport.base import Transport

from .chip_payment import ApplicationChooser, ChipPayment
from .context import CardClients, TerminalContext, local_now
from .errors import FallbackNotAllowedError, POSUsageError
from .journal import Journal
from .link import BackOfficeLink, PaymentMethod, UploadReceipt
from .merchant import MerchantIdentity
from .order_slip import Order, render_order_slip
from .points_spend import spend_points
from .prepaid_pay import pay_prepaid
from .reconcile import ReconcileOutcome, reconcile
from .records import (
    EntryMode,
    Holder,
    IdentityCheck,
    PointsResult,
    SaleResult,
    TxnKind,
    TxnStatus,
)
from .sale import ChipFailure, card_identity, chip_sale, earn_points, finish_declined, stripe_sale
from .slip import Slip, render_slip, slip_from_summary
from .stripe import check_fallback, read_stripe

__all__ = ["Terminal"]

#: a swipe handed to the terminal: keyboard-wedge text, WAV bytes, or a callable asked
#: for one only when the chip has failed
Swipe = str | bytes | Callable[[], str | bytes]


class Terminal:
    """A merchant's terminal: sales, points, redemptions, journal, batches, slips."""

    def __init__(self, chip1: Transport, chip2: Transport, *, merchant: MerchantIdentity,
                 backoffice: BackOfficeLink, sam: PurchaseSecurityModule,
                 journal: Journal | None = None, profile: TerminalProfile | None = None,
                 clock: Callable[[], dt.datetime] = local_now,
                 unpredictable: Callable[[], bytes] | None = None) -> None:
        if sam.terminal_id != merchant.terminal_id:
            raise POSUsageError("the security module belongs to another terminal")
        journal = journal or Journal(terminal_id=merchant.terminal_hex)
        if journal.terminal_id != merchant.terminal_hex:
            raise POSUsageError(f"{journal!r} is not this terminal's journal")
        self.ctx = TerminalContext(merchant, backoffice, journal, sam,
                                   profile or TerminalProfile(), clock)
        if unpredictable is not None:
            self.ctx.unpredictable = unpredictable
        self.card = CardClients(chip1, chip2)

    @classmethod
    def over(cls, link: CardLink, **kwargs: object) -> Terminal:
        """A terminal over both chips of an open :class:`~host.connect.CardLink`."""
        return cls(link.chip(1), link.chip(2), **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        m = self.ctx.merchant
        return f"Terminal({m.merchant_id}, {m.terminal_hex})"

    @property
    def merchant(self) -> MerchantIdentity:
        return self.ctx.merchant

    @property
    def journal(self) -> Journal:
        return self.ctx.journal

    def attach(self, chip1: Transport, chip2: Transport) -> None:
        """Another card in the reader (a simulator's new card, or reconnected readers)."""
        self.card = CardClients(chip1, chip2)

    # -- identity (F7) ----------------------------------------------------------------------

    def confirm_identity(self, pin: str | None, *, method: PaymentMethod | None = None,
                         choose: ApplicationChooser | None = None) -> IdentityCheck:
        """Read chip 1, show the holder, verify the PIN: a typed outcome, never a crash.

        This starts a chip 1 transaction that is not finished (no cryptogram is asked):
        nothing is charged, and the card's counter only records that it was read.
        """
        when = self.ctx.now()
        txn_id = self.journal.begin(TxnKind.IDENTITY, 0, when, {})
        chip = ChipPayment(self.card.payment, self.ctx.profile,
                           TransactionData(0, self.ctx.unpredictable(), when.date()))
        holder = replace(chip.open(method=method, choose=choose),
                         card_id=card_identity(self.card))
        check = IdentityCheck(holder, chip.verify_pin(pin))
        status = TxnStatus.APPROVED if check.confirmed else TxnStatus.DECLINED
        self.journal.update(txn_id, stage="done", when=self.ctx.now(), status=status,
                            summary={"txn_id": txn_id, "kind": "identity",
                                     "status": status.value, "when": when.isoformat(),
                                     "holder": holder.to_dict(), "pin": check.pin.status})
        return check

    # -- sales ------------------------------------------------------------------------------

    def purchase(self, amount: int | None = None, *, pin: str | None = None,
                 method: PaymentMethod | None = None, choose: ApplicationChooser | None = None,
                 swipe: Swipe | None = None, earn: bool = True,
                 order: Order | None = None) -> SaleResult:
        """A sale: chip 1 pays (debit or credit, or the holder chooses), chip 2 earns.

        With ``swipe`` given, a chip that fails before any cryptogram falls back to the
        stripe (its service code permitting); the record says ``fallback`` with the
        chip's error. Without it the chip failure is recorded and raised
        (:class:`~.sale.ChipFailure`).
        """
        if amount is None:
            if order is None:
                raise POSUsageError("a sale needs an amount or an order")
            amount = order.total
        if amount <= 0:
            raise POSUsageError("a sale is for a positive amount")
        when = self.ctx.now()
        result = SaleResult(self.journal.begin(TxnKind.SALE, amount, when, {}),
                            TxnStatus.STARTED, amount, when,
                            order=order.to_dict() if order else None)
        try:
            card_id = chip_sale(self.ctx, self.card, result, pin=pin, method=method,
                                choose=choose)
        except ChipFailure as failure:
            if swipe is None:
                finish_declined(self.ctx, result, "chip error", str(failure))
                raise ChipFailure(f"transaction {result.txn_id}: chip failed: {failure}") \
                    from failure
            return self._fallback(result, str(failure), swipe, earn)
        if result.approved and earn and card_id is not None:
            earn_points(self.ctx, self.card, result, card_id,
                        result.holder.method if result.holder else None)
        return result

    def stripe_purchase(self, amount: int, swipe: Swipe, *,
                        chip_error: str | None = None, earn: bool = True) -> SaleResult:
        """A swiped sale. Refused (:class:`FallbackNotAllowedError`) for a chip card unless
        ``chip_error`` says how its chip failed at this terminal."""
        when = self.ctx.now()
        result = SaleResult(self.journal.begin(TxnKind.SALE, amount, when, {}),
                            TxnStatus.STARTED, amount, when)
        return self._fallback(result, chip_error, swipe, earn)

    def _fallback(self, result: SaleResult, chip_error: str | None, swipe: Swipe,
                  earn: bool) -> SaleResult:
        read = read_stripe(swipe() if callable(swipe) else swipe)
        result.entry = EntryMode.FALLBACK if chip_error is not None else EntryMode.CHIP
        result.chip_error = chip_error
        card_id = card_identity(self.card) if earn else None
        result.holder = Holder(read.masked_pan, read.name, "STRIPE", card_id=card_id)
        try:
            check_fallback(read, chip_error)
        except FallbackNotAllowedError as exc:
            finish_declined(self.ctx, result, str(exc), "stripe refused")
            raise
        stripe_sale(self.ctx, result, read)
        if result.approved and card_id is not None:
            earn_points(self.ctx, self.card, result, card_id, None)
        return result

    # -- points (F5, F20) -------------------------------------------------------------------

    def spend_points(self, points: int, *, purse: Purse = Purse.CONSUMPTION,
                     pin: str | None = None) -> PointsResult:
        """Pay with points at this merchant (the terminal's security module)."""
        return spend_points(self.ctx, self.card, TxnKind.POINTS, purse, points, pin=pin)

    def convert_points(self, points: int, *, purse: Purse = Purse.BANK,
                       pin: str | None = None) -> PointsResult:
        """Points into money on the holder's bank account (the bank's conversion)."""
        return spend_points(self.ctx, self.card, TxnKind.CONVERSION, purse, points, pin=pin)

    def pay_premium(self, points: int, *, insurer_id: str, policy: str,
                    purse: Purse = Purse.CREDIT, pin: str | None = None) -> PointsResult:
        """Points paying an insurance premium for ``policy`` to ``insurer_id``."""
        return spend_points(self.ctx, self.card, TxnKind.PREMIUM, purse, points, pin=pin,
                            insurer_id=insurer_id, policy=policy)

    # -- prepaid (F13-F16) ------------------------------------------------------------------

    def pay_prepaid(self, amount: int, *, pin: str | None = None,
                    program: str | None = None) -> dict[str, Any]:
        """Pay ``amount`` online from the holder's prepaid account of this merchant's
        program (``program`` names it among several): chip 1 identifies the holder, the PIN
        verified offline when the card asks for one (:mod:`.prepaid_pay`). The journal's
        summary; its slip prints the account and its balance after."""
        return pay_prepaid(self.ctx, self.card, amount, pin=pin, program=program)

    # -- journal, batches, slips ------------------------------------------------------------

    def reconcile(self) -> list[ReconcileOutcome]:
        """Finish unfinished transactions (the card in the reader answers for its own)."""
        return reconcile(self.ctx, self.card)

    def upload(self) -> list[UploadReceipt]:
        """Close a batch of the records not yet batched, and upload every batch the back
        office has not yet accepted. Uploading the same batch again is harmless."""
        self.journal.close_batch(self.ctx.now())
        return [self.upload_batch(b.batch_id) for b in self.journal.batches(uploaded=False)]

    def upload_batch(self, batch_id: str) -> UploadReceipt:
        """(Re-)upload one closed batch by its id."""
        batch = self.journal.batch(batch_id)
        try:
            receipt = self.ctx.link.upload(batch, at=self.ctx.now())
        except BatchRejectedError as exc:
            self.journal.mark_uploaded(batch_id, status="rejected", when=self.ctx.now(),
                                       receipt={"rejections": [
                                           {"record": r.record_id, "reason": r.reason}
                                           for r in exc.rejections]})
            raise
        self.journal.mark_uploaded(batch_id, status=receipt.status, when=self.ctx.now(),
                                   receipt=dict(receipt.summary))
        return receipt

    def slip(self, txn_id: str) -> Slip:
        """The structured slip of a journaled transaction (F8)."""
        return slip_from_summary(self.journal.entry(txn_id).summary, self.merchant)

    def receipt(self, txn_id: str) -> str:
        """The printable slip (40 columns)."""
        return render_slip(self.slip(txn_id))

    def order_slip(self, txn_id: str) -> str:
        """The merchant's order slip of a sale made with an order (F26)."""
        raw = self.journal.entry(txn_id).summary.get("order")
        if raw is None:
            raise POSUsageError(f"transaction {txn_id} was not made with an order")
        return render_order_slip(Order.from_dict(raw), self.slip(txn_id))
