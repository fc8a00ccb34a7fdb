"""Outcomes of conformance cases, and the totals a report needs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from .applications import Target
from .cases import Case

__all__ = ["CaseResult", "Outcome", "SuiteResult"]


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


@dataclass(frozen=True)
class CaseResult:
    case: Case
    outcome: Outcome
    target: Target | None = None
    #: what the card answered (data ‖ SW), empty when the case did not run
    response: bytes = b""
    detail: str = ""

    @property
    def sw(self) -> int | None:
        return int.from_bytes(self.response[-2:], "big") if len(self.response) >= 2 else None


@dataclass
class SuiteResult:
    results: list[CaseResult] = field(default_factory=list)
    #: where each application was found
    targets: dict[str, list[Target]] = field(default_factory=dict)

    def counts(self) -> Counter[Outcome]:
        return Counter(r.outcome for r in self.results)

    @property
    def ok(self) -> bool:
        counts = self.counts()
        return not counts[Outcome.FAIL] and not counts[Outcome.ERROR]

    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if r.outcome in (Outcome.FAIL, Outcome.ERROR)]
