"""Many cards in one run: the journal decides what is left, each card is tried on its own.

For each holder record not yet done (per the audit journal): plan the card, get a card
from the target, personalise it (:class:`~.card_run.Personaliser`), write the audit line.
A card that fails is recorded with its reason and the batch goes on. Two things stop
it: an authentication failure (wrong keys — every further card would burn a try of its
key set) and a missing reader or PC/SC stack; both propagate after the audit line is
written. An interruption (Ctrl-C) leaves the card in progress unrecorded, so the next
run with the same audit file does it again — resuming it if it was torn half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from apdu_specs.errors import ProtocolError
from apdu_specs.sw import CardError
from host.gp import GPError
from host.transport.base import NoReaderError, ReaderAmbiguousError, TransportError
from host.transport.pcsc import PCSCUnavailableError

from .audit import FAILED, ISSUED, PLANNED, AuditJournal, AuditRecord
from .card_run import CardReport, Personaliser
from .errors import AuthenticationError, PersoError
from .holders import HolderRecord
from .plan import CardPlan
from .targets import CardSlot

__all__ = ["BatchSummary", "CardTarget", "run_batch"]

#: failures that end the batch: wrong keys (each further card would spend a try of its key
#: set), and no reader to put cards in
_STOP_BATCH = (AuthenticationError, NoReaderError, ReaderAmbiguousError, PCSCUnavailableError)
#: failures that end one card, not the batch
_CARD_FAILURES = (PersoError, CardError, GPError, TransportError, ProtocolError, ValueError)


class CardTarget(Protocol):
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
    apdus: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every holder has an issued (or planned) card."""
        return self.failed == 0 and self.skipped_failed == 0

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "issued": self.issued, "failed": self.failed,
                "skipped": self.skipped, "skipped_failed": self.skipped_failed,
                "planned": self.planned, "resumed": self.resumed,
                "apdus": self.apdus,
                "failures": [{"row": row, "reason": why} for row, why in self.failures]}


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _record(plan: CardPlan | None, holder: HolderRecord, result: str, *, reason: str | None = None,
            report: CardReport | None = None, image: str | None = None) -> AuditRecord:
    card = plan.card if plan is not None else None
    apdus = 0
    if report is not None and report.estimate is not None:
        apdus = report.estimate.total
    return AuditRecord(row=holder.row, card_id=card.card_id if card else (holder.card_id or ""),
                       holder_id=holder.holder_id, pan=card.masked_pan if card else "",
                       result=result, reason=reason,
                       kcvs=report.kcvs() if report is not None else (plan.kcvs if plan else {}),
                       apdus=apdus, image=image)


def run_batch(personaliser: Personaliser, holders: Iterable[HolderRecord],
              target: CardTarget | None, journal: AuditJournal | None, *,
              retry_failed: bool = False,
              on_card: Callable[[AuditRecord], None] | None = None) -> BatchSummary:
    """Personalise every holder not yet done; ``target=None`` is a dry run (nothing sent)."""
    summary = BatchSummary()
    for holder in holders:
        summary.total += 1
        if journal is not None and journal.should_skip(holder.row, retry_failed=retry_failed):
            summary.skipped += 1
            summary.skipped_failed += journal.results.get(holder.row) == FAILED
            continue
        record, stop = _one(personaliser, holder, target, summary)
        if record.result == FAILED:
            summary.failed += 1
            summary.failures.append((record.row, record.reason or ""))
        if journal is not None:
            journal.record(record)
        if on_card is not None:
            on_card(record)
        if stop is not None:
            raise stop
    return summary


def _one(personaliser: Personaliser, holder: HolderRecord, target: CardTarget | None,
         summary: BatchSummary) -> tuple[AuditRecord, BaseException | None]:
    """One card's audit record, and the error that must stop the batch (if any)."""
    plan = None
    try:
        plan = personaliser.plan(holder)
        if target is None:
            report = personaliser.estimate(plan)
            summary.planned += 1
            summary.apdus += report.estimate.total if report.estimate else 0
            return _record(plan, holder, PLANNED, report=report), None
        with target.card(plan) as slot:
            report = personaliser.personalise(plan, slot.transports, stripe=slot.stripe,
                                              fresh=slot.fresh)
            slot.commit()
        summary.issued += 1
        summary.resumed += report.resumed
        summary.apdus += report.estimate.total if report.estimate else 0
        return _record(plan, holder, ISSUED, report=report, image=slot.image), None
    except _STOP_BATCH as exc:
        return _record(plan, holder, FAILED, reason=_reason(exc)), exc
    except _CARD_FAILURES as exc:
        return _record(plan, holder, FAILED, reason=_reason(exc)), None
