"""A sale at the terminal: chip 1 pays, chip 2 earns, the journal records every step.

Theory of operation (each arrow is a journal commit before the next card command):

1. ``begin`` → the card's identity (chip 2) → the holder read from chip 1 (F7) → the PIN
   (a wrong or blocked PIN declines the sale with the tries left: a result, not a crash)
   → first GENERATE AC;
2. an ARQC goes online through the :class:`~host.pos.link.BackOfficeLink`: the card
   must accept the ARPC (else :class:`~host.pos.errors.ARPCRejectedError`), scripts the
   issuer queued for the card run (a raised credit limit: PUT DATA), the second
   GENERATE AC gives the outcome → the payment record is journaled, *then* points are
   earned;
3. earning: the merchant's agreement (and the bank's, for a chip payment) gives the points
   per purse; each load is journaled as pending before CREDIT FOR LOAD, and becomes a
   load record once its TAC checks.

A chip that fails before any cryptogram (no application, a status word, a mute chip)
raises :class:`ChipFailure`: the terminal may then take the stripe (fallback). A card
that goes away later raises :class:`~host.pos.errors.TransactionInterruptedError` with
the journal showing the stage; :mod:`.reconcile` finishes it when the card is back.
"""

from __future__ import annotations

from dataclasses import replace

from apdu_specs.errors import RemoteError
from apdu_specs.payment.ac_type import ACType
from apdu_specs.sw import CardError
from host.payment.client import CryptogramResponse
from host.payment.errors import ARQCError, PaymentError
from host.payment.issuer import AuthorisationRequest, Decision
from host.payment.terminal import TransactionData
from host.points.errors import PointsError, PurseMACError, TransactionInterrupted
from host.points.load_host import LoadAuthorization
from host.records.batch import Record, SaleClaim
from host.records.errors import BackOfficeError
from host.transport.base import TransportError

from .batch import load_record, payment_record
from .chip_payment import ApplicationChooser, ChipPayment
from .context import CardClients, TerminalContext
from .errors import (
    ARPCRejectedError,
    PointsProofError,
    POSError,
    POSUsageError,
    TransactionInterruptedError,
)
from .link import AdvisingLink, PaymentMethod
from .pending import pending_to_dict
from .points_hosts import LinkLoadHost
from .records import PointsMovement, SaleResult, TxnStatus
from .stripe import StripeRead

__all__ = ["ChipFailure", "card_identity", "chip_sale", "earn_points", "finish_declined",
           "stripe_sale"]

#: what a chip may fail with before its first cryptogram (then the stripe may be used)
_CHIP_FAILURES = (CardError, PaymentError, POSError, TransportError)


class ChipFailure(POSError, RemoteError):
    """Chip 1 failed before any cryptogram: nothing was charged; the stripe may be tried."""


def card_identity(card: CardClients) -> str | None:
    """The card's identity from chip 2 (None when chip 2 cannot be read)."""
    try:
        return card.points.card_identity
    except (CardError, PointsError, TransportError):
        return None


def _save(ctx: TerminalContext, result: SaleResult, stage: str, *,
          status: TxnStatus | None = None, error: str | None = None,
          records: tuple[Record, ...] = (), clear_slot: str | None = None) -> None:
    if status is not None:
        result.status = status
    ctx.journal.update(result.txn_id, stage=stage, when=ctx.now(), status=status,
                       summary=result.to_dict(), error=error, records=records,
                       clear_slot=clear_slot)


def finish_declined(ctx: TerminalContext, result: SaleResult, message: str,
                    error: str | None = None) -> SaleResult:
    result.message = message
    _save(ctx, result, "done", status=TxnStatus.DECLINED, error=error)
    return result


def chip_sale(ctx: TerminalContext, card: CardClients, result: SaleResult, *, pin: str | None,
              method: PaymentMethod | None, choose: ApplicationChooser | None) -> str | None:
    """Run chip 1 for ``result``; the card identity, or raise :class:`ChipFailure`.

    On return ``result`` holds the final outcome, already journaled with its payment record.
    """
    card_id = card_identity(card)
    chip = ChipPayment(card.payment, ctx.profile,
                       TransactionData(result.amount, ctx.unpredictable(), result.when.date()))
    try:
        holder = chip.open(method=method, choose=choose)
        result.holder = replace(holder, card_id=card_id)
        result.pin = chip.verify_pin(pin)
        if result.pin.asked and not result.pin.verified:
            first = chip.first_ac(ACType.AAC)
            result.atc, result.cryptogram = first.atc, first.cryptogram
            finish_declined(ctx, result, result.pin.describe())
            return card_id
        online = result.amount > ctx.profile.floor_limit
        first = chip.first_ac(ACType.ARQC if online else ACType.TC)
    except _CHIP_FAILURES as exc:
        _save(ctx, result, "chip failed", error=str(exc))
        raise ChipFailure(str(exc)) from exc
    try:
        _complete(ctx, chip, result, first, card_id)
    except TransportError as exc:
        _save(ctx, result, "chip interrupted", status=TxnStatus.INCOMPLETE, error=str(exc))
        raise TransactionInterruptedError(result.txn_id, "payment", str(exc), result) from exc
    return card_id


def _complete(ctx: TerminalContext, chip: ChipPayment, result: SaleResult,
              first: CryptogramResponse, card_id: str | None) -> None:
    result.atc = first.atc
    if first.kind is not ACType.ARQC:
        result.cryptogram = first.cryptogram
        if first.kind is ACType.AAC:
            finish_declined(ctx, result, "declined by the card")
            return
        result.arc = b"Y1"  # approved offline by the card
        _approve(ctx, chip, result, first, card_id, "approved offline")
        _advise_offline(ctx, chip, card_id)
        return
    _save(ctx, result, "online")
    request = chip.authorisation_request()
    method = chip.method or PaymentMethod.DEBIT
    try:
        answer = ctx.link.authorise(request, card_id=card_id or request.pan, method=method)
    except ARQCError as exc:
        second = chip.decline()
        result.cryptogram = second.cryptogram
        finish_declined(ctx, result, "the issuer could not verify the card", str(exc))
        raise
    except OSError as exc:  # the issuer is out of reach: the card decides offline
        _unable_online(ctx, chip, result, first, card_id, exc)
        return
    completion = chip.complete_online(answer.response)
    result.arc, result.cryptogram = answer.response.arc, completion.second.cryptogram
    if answer.response.approved and (completion.issuer_authenticated is False
                                     or completion.second.kind is not ACType.TC):
        _reverse_online(ctx, request)  # the issuer approved, the card did not
    if completion.issuer_authenticated is False:
        finish_declined(ctx, result, "the card rejected the issuer's ARPC", "ARPC rejected")
        raise ARPCRejectedError(result.txn_id, "the card rejected the issuer's authentication "
                                "data (ARPC): declined")
    if answer.script_ids and completion.scripts and completion.scripts_ok:
        ctx.link.scripts_delivered(answer.script_ids, at=ctx.now())
        result.credit_limit = answer.new_credit_limit
    if completion.second.kind is ACType.TC:
        _approve(ctx, chip, result, first, card_id, "approved online", completion.second)
    elif answer.response.decision is Decision.REFERRAL:
        result.message = "referral: call the issuer"
        _save(ctx, result, "done", status=TxnStatus.REFERRAL)
    else:
        message = "declined by the issuer" if not answer.response.approved \
            else "declined by the card"
        finish_declined(ctx, result, message)


def _unable_online(ctx: TerminalContext, chip: ChipPayment, result: SaleResult,
                   first: CryptogramResponse, card_id: str | None, exc: OSError) -> None:
    """No answer from the issuer (Y3): the card approves offline or declines."""
    second = chip.complete_unable_online()
    result.arc, result.cryptogram = b"Y3", second.cryptogram
    if second.kind is ACType.TC:
        _approve(ctx, chip, result, first, card_id, f"approved offline ({exc})", second)
        _advise_offline(ctx, chip, card_id)
    else:
        finish_declined(ctx, result, f"issuer unreachable, declined offline ({exc})")


def _reverse_online(ctx: TerminalContext, request: AuthorisationRequest) -> None:
    """A link with reversals (the network link) undoes the approval's hold at the issuer."""
    if isinstance(ctx.link, AdvisingLink):
        ctx.link.reverse_authorisation(request)


def _advise_offline(ctx: TerminalContext, chip: ChipPayment, card_id: str | None) -> None:
    """A link with advices (the network link) tells the issuer of the offline approval."""
    if isinstance(ctx.link, AdvisingLink):
        request = chip.advice_request()
        ctx.link.advise_offline_sale(request, card_id=card_id or request.pan,
                                     method=chip.method or PaymentMethod.DEBIT)


def _approve(ctx: TerminalContext, chip: ChipPayment, result: SaleResult,
             first: CryptogramResponse, card_id: str | None, message: str,
             second: CryptogramResponse | None = None) -> None:
    result.message = message
    when = ctx.card_time(result.when)
    if chip.options is None or chip.card is None:
        raise POSUsageError("approval before the application was read")
    record = payment_record(result.txn_id, card_id or chip.card.pan,
                            chip.method or PaymentMethod.DEBIT, result.amount, first.atc,
                            first.cryptogram, chip.cdol1_data, chip.options.aip, first.iad,
                            when.strftime("%Y%m%d"), when.strftime("%H%M%S"), final=second,
                            cdol2_data=chip.cdol2_data)
    result.proof = SaleClaim(payment=record)
    _save(ctx, result, "paid", status=TxnStatus.APPROVED, records=(record,))


def stripe_sale(ctx: TerminalContext, result: SaleResult, read: StripeRead) -> None:
    """Authorise a swiped sale online (the issuer checks the CVV); journaled."""
    card_id = result.holder.card_id if result.holder else None
    decision = ctx.link.authorise_stripe(read.track2, result.amount, card_id=card_id)
    result.arc = decision.decision.arc
    if decision.approved:
        result.message = "approved online (stripe)"
        result.proof = SaleClaim(authorisation_id=decision.authorisation_id)
        _save(ctx, result, "paid", status=TxnStatus.APPROVED)
    elif decision.decision is Decision.REFERRAL:
        result.message = "referral: call the issuer"
        _save(ctx, result, "done", status=TxnStatus.REFERRAL)
    else:
        finish_declined(ctx, result, decision.reason or "declined by the issuer")


def earn_points(ctx: TerminalContext, card: CardClients, result: SaleResult, card_id: str,
                method: PaymentMethod | None) -> None:
    """Load the points the sale earns onto chip 2 (journaled before and after each load)."""
    quotes = ctx.link.earn_quotes(merchant_id=ctx.merchant.merchant_id, card_id=card_id,
                                  method=method, purchase_fen=result.amount, at=result.when)
    proof = result.proof or SaleClaim()
    payment_ref = proof.payment.record_id if proof.payment else None
    if not quotes:
        _save(ctx, result, "done")
    for number, quote in enumerate(quotes, start=1):
        slot = f"load-{quote.purse.label}"
        context = {"purchase_fen": result.amount, "issuer_id": quote.issuer_id,
                   "payment_ref": payment_ref, "authorisation_ref": proof.authorisation_id}

        def journal_pending(authorization: LoadAuthorization, slot: str = slot,
                            context: dict[str, object] = context) -> None:
            ctx.journal.set_pending(result.txn_id, slot,
                                    {**pending_to_dict(authorization), "context": context})

        host = LinkLoadHost(ctx.link, journal_pending, sale=proof)
        try:
            record = card.points.load(quote.purse, quote.points, host,  # type: ignore[arg-type]
                                      terminal_id=ctx.merchant.terminal_id,
                                      when=ctx.card_time(result.when))
        except (TransactionInterrupted, TransportError) as exc:
            _save(ctx, result, "earn interrupted", error=str(exc))
            raise TransactionInterruptedError(result.txn_id, f"{quote.purse.label} points load",
                                              str(exc), result) from exc
        except PurseMACError as exc:
            _save(ctx, result, "earn refused", error=str(exc))
            raise PointsProofError(result.txn_id, str(exc)) from exc
        except BackOfficeError as exc:  # the points issuer found no sale to reward
            _save(ctx, result, "done" if number == len(quotes) else
                  f"{quote.purse.label} refused", error=f"no points: {exc}")
            continue
        result.points.append(PointsMovement(quote.purse, record.amount, record.balance_after,
                                            record.tac, quote.issuer_id))
        batch_record = load_record(result.txn_id, record, purchase_fen=result.amount,
                                   issuer_id=quote.issuer_id, payment_ref=payment_ref,
                                   authorisation_ref=proof.authorisation_id)
        stage = "done" if number == len(quotes) else f"earned {quote.purse.label}"
        _save(ctx, result, stage, records=(batch_record,), clear_slot=slot)

