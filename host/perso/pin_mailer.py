"""The PIN mailer file: each issued card's PIN, for the print shop — and nothing else secret.

CSV with a header ``card_id,holder_id,name,pan_last4,pin``, appended one line per issued
card and synced to disk before the card is reported issued, so a PIN is never lost for
a card that exists. The file is created (and kept) with mode 0600. It never holds a key,
a KCV or a full PAN. When a card is personalised again after an interruption it gets a
new PIN and a new line: the last line of a card is the one that counts.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from .card_data import CardData

__all__ = ["MAILER_COLUMNS", "PINMailer"]

MAILER_COLUMNS = ("card_id", "holder_id", "name", "pan_last4", "pin")


class PINMailer:
    """Appends PIN lines to one file (mode 0600)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"PINMailer({self.path})"

    def add(self, card: CardData) -> None:
        """Append ``card``'s PIN line and sync it to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.fchmod(fd, 0o600)
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            if os.fstat(fd).st_size == 0:
                writer.writerow(MAILER_COLUMNS)
            writer.writerow((card.card_id, card.holder_id, card.name, card.pan[-4:], card.pin))
            os.write(fd, buffer.getvalue().encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
