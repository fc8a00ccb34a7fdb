"""The per-card audit trail of a batch (JSON Lines), which is also the batch's journal.

Line 1 names the batch: the profile's and the input's SHA-256 and the KCVs of the
master keys in use. Then one line per card attempt::

    {"type": "card", "row": 7, "card_id": "8860000000000007", "holder_id": "C-1007",
     "pan": "622202******0071", "result": "issued", "reason": null, "reached_card": true,
     "kcvs": {"chip1.isd": "1A2B3C", ...}, "apdus": 61, "image": "cards/...json",
     "time": "2025-01-01T10:00:00+00:00"}

``result`` is ``issued`` (personalised and read back), ``failed`` (with ``reason``),
``pending`` (stopped before reaching a card: no reader, no card, the reader gone before
the card answered — the row is tried again by the next run) or ``planned`` (a dry run).
``reached_card`` says whether the card answered any command in that attempt: the rows
that ever reached a card are exactly those with a line where it is true. Never a key, a
PIN or a full PAN. Each line is flushed and synced before the next card starts, so after
an interruption the file says exactly which cards are done; a batch started again with
the same audit file skips them (and, unless asked to retry, the failed ones) — the file
is the journal. A line cut short by a crash is removed when the batch starts again.

Version 2: card numbers come from the issuer's number store, and ``reached_card`` and
``pending`` exist. A version 1 file (numbers counted from the row) is not resumed.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..files import parse_json, read_bytes, read_text
from .errors import AuditJournalError

__all__ = ["AUDIT_FORMAT", "AuditJournal", "AuditRecord", "BatchIdentity"]

AUDIT_FORMAT = "dualcard-perso-audit"
AUDIT_VERSION = 2

ISSUED = "issued"
FAILED = "failed"
PLANNED = "planned"
PENDING = "pending"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class BatchIdentity:
    """What makes two runs the same batch (and may therefore share a journal)."""

    profile: str
    input: str
    key_kcvs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """One card attempt, as written to the audit file."""

    row: int
    card_id: str
    holder_id: str
    pan: str  #: masked
    result: str
    reason: str | None = None
    kcvs: Mapping[str, str] = field(default_factory=dict)
    apdus: int = 0
    image: str | None = None
    #: the card answered at least one command in this attempt
    reached_card: bool = False
    time: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        return {"type": "card", **asdict(self), "kcvs": dict(self.kcvs)}


class AuditJournal:
    """Append-only audit file of one batch; :meth:`open` reads what is already done."""

    def __init__(self, path: str | os.PathLike[str], identity: BatchIdentity) -> None:
        self.path = Path(path)
        self.identity = identity
        self.results: dict[int, str] = {}
        #: the card identity of each issued row (to check the number store against)
        self.issued_cards: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"AuditJournal({self.path}, {len(self.results)} cards recorded)"

    def open(self) -> dict[int, str]:
        """Check the file belongs to this batch (or start it); the last result of each row."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append({"type": "batch", "format": AUDIT_FORMAT, "version": AUDIT_VERSION,
                          "profile": self.identity.profile, "input": self.identity.input,
                          "key_kcvs": dict(self.identity.key_kcvs), "time": _now()})
            return self.results
        self._drop_cut_line()
        records = []
        for number, line in enumerate(read_text(self.path, empty_ok=True).splitlines(), 1):
            if line.strip():
                records.append((number, parse_json(line, str(self.path), line=number,
                                                   expect=dict)))
        self._check_header(records[0][1] if records else None)
        for number, record in records[1:]:
            if record.get("type") == "card":
                try:
                    self._note(int(record["row"]), str(record["result"]), str(record["card_id"]))
                except (KeyError, TypeError, ValueError):
                    raise AuditJournalError(f"{self.path}:{number}: a card record needs a row "
                                            "number, a result and a card id") from None
        self._append({"type": "resume", "time": _now(), "done": self.done_count()})
        return self.results

    def _drop_cut_line(self) -> None:
        """Remove a last line cut short by a crash (lines are only ever appended whole)."""
        data = read_bytes(self.path)
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)

    def _check_header(self, header: dict[str, Any] | None) -> None:
        if not header or header.get("type") != "batch" or header.get("format") != AUDIT_FORMAT:
            raise AuditJournalError(f"{self.path} is not a dualcard personalisation audit file")
        if header.get("version") == 1:
            raise AuditJournalError(f"{self.path} numbered its cards by row (audit version 1); card "
                               "numbers now come from the number store: start a new audit file")
        if header.get("version") != AUDIT_VERSION:
            raise AuditJournalError(f"{self.path}: audit version {header.get('version')!r} is not "
                                    f"supported")
        for what in ("profile", "input"):
            if header.get(what) != getattr(self.identity, what):
                raise AuditJournalError(f"{self.path} belongs to a batch with another {what} file; "
                                        "use a new audit file (or the original input)")
        if header.get("key_kcvs") != dict(self.identity.key_kcvs):
            raise AuditJournalError(f"{self.path} was written with other master keys (KCVs differ)")

    def done_count(self) -> int:
        return sum(1 for r in self.results.values() if r == ISSUED)

    def should_skip(self, row: int, *, retry_failed: bool = False) -> bool:
        """True when ``row`` needs no new attempt."""
        result = self.results.get(row)
        return result == ISSUED or (result == FAILED and not retry_failed)

    def record(self, record: AuditRecord) -> None:
        self._append(record.to_json())
        self._note(record.row, record.result, record.card_id)

    def _note(self, row: int, result: str, card_id: str) -> None:
        self.results[row] = result
        if result == ISSUED:
            self.issued_cards[row] = card_id

    def _append(self, obj: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
