"""The PIN mailer file: each issued card's PIN, for the print shop — and nothing else secret.

CSV with a header ``card_id,holder_id,name,pan_last4,pin,status``, one line per card,
synced to disk before the card is reported issued, so a PIN is never lost for a card
that exists. The file is created (and kept) with mode 0600. It never holds a key, a KCV
or a full PAN.

One current PIN per card: a card personalised again (a run resumed after an
interruption, a run repeated for the same card) gets a new PIN, and the card's earlier
line is marked ``void`` with its PIN blanked, so the print run prints only ``current``
lines and a voided letter, if already printed, is known to be worthless. A new card's
line is appended; voiding rewrites the file (a new file, synced, then renamed over the
old one, so a crash leaves either file whole). A file of the earlier layout (no
``status`` column, the last line of a card counting) is brought to this one on the
first write.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from ..files import parse_csv, read_text
from .card_data import CardData
from .errors import PinMailerError

__all__ = ["CURRENT", "MAILER_COLUMNS", "VOID", "PINMailer"]

MAILER_COLUMNS = ("card_id", "holder_id", "name", "pan_last4", "pin", "status")
#: the header of files written before the status column
_EARLIER_COLUMNS = MAILER_COLUMNS[:-1]
CURRENT = "current"
VOID = "void"
_PIN, _STATUS = MAILER_COLUMNS.index("pin"), MAILER_COLUMNS.index("status")


class PINMailer:
    """One file (mode 0600) of the current PIN of each card."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        #: cards with a line in the file (read on the first write)
        self._cards: set[str] | None = None

    def __repr__(self) -> str:
        return f"PINMailer({self.path})"

    def add(self, card: CardData) -> None:
        """Write ``card``'s PIN line (voiding its earlier one) and sync it to disk."""
        line = [card.card_id, card.holder_id, card.name, card.pan[-4:], card.pin, CURRENT]
        if self._cards is None:
            rows, current_layout = self._read()
            self._cards = {row[0] for row in rows}
            if not current_layout:
                self._rewrite(rows)
        if card.card_id in self._cards:
            self._rewrite([*self._read()[0], line])
        else:
            self._append(line)
        self._cards.add(card.card_id)

    def _read(self) -> tuple[list[list[str]], bool]:
        """The lines of the file in this layout, and whether the file already has it."""
        if not self.path.exists():
            return [], True
        text = read_text(self.path, empty_ok=True)
        if not text.strip():
            return [], True
        table = parse_csv(text, str(self.path))
        header, body = tuple(table.header), [fields for _line, fields in table.rows]
        if header == MAILER_COLUMNS:
            return body, True
        if header == _EARLIER_COLUMNS:
            return [[*row, CURRENT] for row in body], False
        raise PinMailerError(f"{self.path} is not a PIN mailer file (header {','.join(header)})")

    def _append(self, line: Sequence[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchmod(fd, 0o600)
            rows = [line] if os.fstat(fd).st_size else [MAILER_COLUMNS, line]
            os.write(fd, _csv(rows))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _rewrite(self, rows: list[list[str]]) -> None:
        """The file anew: only the last line of each card is current."""
        last = {row[0]: n for n, row in enumerate(rows)}
        for n, row in enumerate(rows):
            if last[row[0]] != n and row[_STATUS] != VOID:
                row[_PIN], row[_STATUS] = "", VOID
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.path.with_name(self.path.name + ".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, _csv([MAILER_COLUMNS, *rows]))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(fresh, self.path)
        _sync_dir(self.path.parent)


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _sync_dir(directory: Path) -> None:
    """The rename itself survives a power cut once the directory is synced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
