"""Many cards in one run: the journal decides what is left, each card is tried on its own.

The batch first takes its holders' card numbers from the number store, for the batch's
origin (:func:`~.numbering.batch_origin`), in one transaction: a batch started again gets
back the numbers its rows already hold, and the rows its journal says are issued are
checked against the store (and marked issued there, should a crash have lost the mark).

Then for each holder record not yet done (per the audit journal): plan the card, get a
card from the target, personalise it (:class:`~.card_run.Personaliser`), write the audit
line. A card that fails is recorded with its reason and the batch goes on. Three things
stop it:

* an authentication failure (wrong keys — every further card would burn a try of its key
  set), written as a failed card;
* a missing reader, card or PC/SC stack *before the card answered anything* — no card
  was touched, so the row is written as ``pending`` (not failed) and the next run starts
  with it: a mistyped reader name does not move the next holder onto the card meant for
  this one;
* an interruption (Ctrl-C), which leaves the card in progress unrecorded, so the next
  run with the same audit file does it again — resuming it if it was torn half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol

from apdu_specs.errors import ProtocolError
from apdu_specs.sw import CardError
from host.gp import GPError
from host.transport.base import (
    NoReaderError,
    ReaderAmbiguousError,
    Transport,
    TransportError,
    TransportWrapper,
)
from host.transport.pcsc import PCSCUnavailableError

from .audit import FAILED, ISSUED, PENDING, PLANNED, AuditJournal, AuditRecord
from .card_data import CardNumbers
from .card_run import CardReport, Personaliser
from .errors import AuthenticationError, NumberInUseError, PersoError
from .holders import HolderRecord
from .numbering import batch_origin
from .plan import CardPlan
from .targets import CardSlot

__all__ = ["BatchSummary", "CardTarget", "run_batch"]

#: failures that end the batch: wrong keys (each further card would spend a try of its key
#: set), and no reader to put cards in
_STOP_BATCH = (AuthenticationError, NoReaderError, ReaderAmbiguousError, PCSCUnavailableError)
#: failures that end one card, not the batch
_CARD_FAILURES = (PersoError, CardError, GPError, TransportError, ProtocolError, ValueError)


class CardTarget(Protocol):
    """Where a batch's cards come from."""

    #: whether every card it gives was made blank a moment ago (an image directory): its
    #: state is not read first, and numbers already on an issued card can never be its
    blank_cards: bool

    def card(self, plan: CardPlan) -> AbstractContextManager[CardSlot]: ...


@dataclass
class BatchSummary:
    total: int = 0
    issued: int = 0
    failed: int = 0
    skipped: int = 0
    #: rows skipped because an earlier run failed them (not retried without ``retry_failed``)
    skipped_failed: int = 0
    planned: int = 0
    resumed: int = 0
    #: rows stopped before their card answered (no reader, no card): tried again next run
    pending: int = 0
    apdus: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every holder has an issued (or planned) card."""
        return self.failed == 0 and self.skipped_failed == 0

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "issued": self.issued, "failed": self.failed,
                "skipped": self.skipped, "skipped_failed": self.skipped_failed,
                "planned": self.planned, "resumed": self.resumed, "pending": self.pending,
                "apdus": self.apdus,
                "failures": [{"row": row, "reason": why} for row, why in self.failures]}


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _Reach:
    """Whether the card of one attempt answered any command (then it was touched)."""

    def __init__(self) -> None:
        self.reached = False

    def watch(self, transports: Mapping[int, Transport]) -> dict[int, Transport]:
        return {chip: _Watched(t, self) for chip, t in transports.items()}


class _Watched(TransportWrapper):
    def __init__(self, inner: Transport, reach: _Reach) -> None:
        super().__init__(inner)
        self._reach = reach

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        self._reach.reached = True
        return response


def _record(plan: CardPlan | None, holder: HolderRecord, result: str, *, reason: str | None = None,
            report: CardReport | None = None, image: str | None = None,
            reached: bool = False) -> AuditRecord:
    card = plan.card if plan is not None else None
    apdus = 0
    if report is not None and report.estimate is not None:
        apdus = report.estimate.total
    return AuditRecord(row=holder.row, card_id=card.card_id if card else (holder.card_id or ""),
                       holder_id=holder.holder_id, pan=card.masked_pan if card else "",
                       result=result, reason=reason,
                       kcvs=report.kcvs() if report is not None else (plan.kcvs if plan else {}),
                       apdus=apdus, image=image, reached_card=reached)


def run_batch(personaliser: Personaliser, holders: Iterable[HolderRecord],
              target: CardTarget | None, journal: AuditJournal | None, *,
              retry_failed: bool = False,
              on_card: Callable[[AuditRecord], None] | None = None,
              blank_cards: bool = False) -> BatchSummary:
    """Personalise every holder not yet done; ``target=None`` is a dry run (nothing sent,
    nothing kept: the numbers shown are those the batch would get now; ``blank_cards``:
    counted as for a target that makes each card blank, as an image directory does)."""
    holders = list(holders)
    summary = BatchSummary(total=len(holders))
    todo = []
    for holder in holders:
        if journal is not None and journal.should_skip(holder.row, retry_failed=retry_failed):
            summary.skipped += 1
            summary.skipped_failed += journal.results.get(holder.row) == FAILED
        else:
            todo.append(holder)
    numbers = _numbers(personaliser, holders, todo, journal, preview=target is None)
    fresh = blank_cards if target is None else target.blank_cards
    if fresh and target is not None:
        _refuse_issued(todo, numbers)
    store = personaliser.numbers
    with store.deferred_marks() if store is not None else nullcontext():
        for holder in todo:
            _attempt(personaliser, holder, numbers.get(holder.index), target, journal,
                     summary, on_card, fresh)
    return summary


def _numbers(personaliser: Personaliser, holders: list[HolderRecord], todo: list[HolderRecord],
             journal: AuditJournal | None, *, preview: bool) -> dict[int, CardNumbers]:
    """The card numbers of the rows to do; the issued rows checked against the store."""
    origin = batch_origin(personaliser.profile, holders)
    store = personaliser.numbers
    if store is not None and journal is not None and not preview:
        store.confirm_issued(origin, {h.holder_id: journal.issued_cards[h.row] for h in holders
                                      if h.row in journal.issued_cards})
    return personaliser.number(todo, origin, preview=preview) if todo else {}


def _refuse_issued(todo: list[HolderRecord], numbers: dict[int, CardNumbers]) -> None:
    """Blank cards for rows whose numbers are already on issued cards would all fail, one
    by one: refuse the batch before the first card instead (its journal is not the one that
    issued them — deleted, or another output directory)."""
    issued = [h.row for h in todo if (n := numbers.get(h.index)) is not None and n.issued]
    if issued:
        rows = f"row {issued[0]}" if len(issued) == 1 else f"{len(issued)} rows from row {issued[0]}"
        raise NumberInUseError(
            f"{rows} already have issued cards in the number store, which this batch's journal "
            "does not list (another output directory or audit file?); no card was made "
            "(a new card for a holder: perso run --replaces CARD_ID)")


def _attempt(personaliser: Personaliser, holder: HolderRecord, numbers: CardNumbers | None,
             target: CardTarget | None, journal: AuditJournal | None, summary: BatchSummary,
             on_card: Callable[[AuditRecord], None] | None, fresh: bool) -> None:
    """One row: its card, its audit line; raises what must stop the batch."""
    record, stop = _one(personaliser, holder, numbers, target, summary, fresh)
    if record.result == FAILED:
        summary.failed += 1
        summary.failures.append((record.row, record.reason or ""))
    summary.pending += record.result == PENDING
    if journal is not None:
        journal.record(record)
    if on_card is not None:
        on_card(record)
    if stop is not None:
        raise stop


def _one(personaliser: Personaliser, holder: HolderRecord, numbers: CardNumbers | None,
         target: CardTarget | None, summary: BatchSummary,
         fresh: bool) -> tuple[AuditRecord, BaseException | None]:
    """One card's audit record, and the error that must stop the batch (if any)."""
    plan = None
    reach = _Reach()
    try:
        plan = personaliser.plan(holder, numbers)
        if target is None:
            report = personaliser.estimate(plan, fresh=fresh)
            summary.planned += 1
            summary.apdus += report.estimate.total if report.estimate else 0
            return _record(plan, holder, PLANNED, report=report), None
        with target.card(plan) as slot:
            report = personaliser.personalise(plan, reach.watch(slot.transports),
                                              stripe=slot.stripe, fresh=slot.fresh)
            slot.commit()
        summary.issued += 1
        summary.resumed += report.resumed
        summary.apdus += report.estimate.total if report.estimate else 0
        return _record(plan, holder, ISSUED, report=report, image=slot.image,
                       reached=True), None
    except (*_STOP_BATCH, *_CARD_FAILURES) as exc:
        return _failure(plan, holder, exc, reach.reached)


def _failure(plan: CardPlan | None, holder: HolderRecord, exc: Exception,
             reached: bool) -> tuple[AuditRecord, BaseException | None]:
    """No reader or card before the card answered: the row stays pending and the batch
    stops (the next row would meet the same reader). Otherwise the card failed."""
    reason = _reason(exc)
    if isinstance(exc, TransportError) and not reached:
        return _record(plan, holder, PENDING, reason=reason), exc
    stop = exc if isinstance(exc, _STOP_BATCH) else None
    return _record(plan, holder, FAILED, reason=reason, reached=reached), stop
