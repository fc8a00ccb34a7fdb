"""The per-command table ``dualcard conformance`` prints."""

from __future__ import annotations

from collections import Counter

from .results import CaseResult, Outcome, SuiteResult

__all__ = ["summary_line", "table"]

_HEAD = ("command", "where", "pass", "fail", "skip", "note")


def table(result: SuiteResult) -> str:
    """One row per command and target: counts, and the first failure (or skip reason)."""
    rows: dict[tuple[str, str], list[CaseResult]] = {}
    for item in result.results:
        where = str(item.target) if item.target is not None else "-"
        rows.setdefault((item.case.command_name, where), []).append(item)
    lines = [_row(name, where, items) for (name, where), items in rows.items()]
    widths = [max(len(r[i]) for r in [_HEAD, *lines]) for i in range(5)]
    out = []
    for row in [_HEAD, *lines]:
        cells = [row[i].ljust(widths[i]) if i < 2 else row[i].rjust(widths[i]) for i in range(5)]
        out.append("  ".join([*cells, row[5]]).rstrip())
    return "\n".join(out)


def summary_line(result: SuiteResult) -> str:
    counts = result.counts()
    verdict = "PASSED" if result.ok else "FAILED"
    return (f"{verdict}: {counts[Outcome.PASS]} passed, {counts[Outcome.FAIL]} failed, "
            f"{counts[Outcome.ERROR]} errors, {counts[Outcome.SKIP]} skipped")


def _row(name: str, where: str, items: list[CaseResult]) -> tuple[str, ...]:
    counts: Counter[Outcome] = Counter(i.outcome for i in items)
    bad = next((i for i in items if i.outcome in (Outcome.FAIL, Outcome.ERROR)), None)
    if bad is not None:
        note = f"{bad.outcome.upper()} {bad.case.kind}: {bad.detail}"
    elif counts[Outcome.SKIP]:
        note = next(i.detail for i in items if i.outcome is Outcome.SKIP)
    else:
        note = ""
    return (name, where, str(counts[Outcome.PASS]),
            str(counts[Outcome.FAIL] + counts[Outcome.ERROR]), str(counts[Outcome.SKIP]), note)
