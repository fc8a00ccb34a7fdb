"""The personal reader's software key store: its identity and one binding key per card.

A JSON file (mode 0600) holding the reader id and, per card (the application's PAN),
the binding key in hex. A hardware reader keeps the same in a secure element; nothing
else in the reader ever sees a key, and nothing shows one (``repr`` shows the KCVs).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from apdu_specs.payment.binding import READER_ID_LENGTH

from .errors import ReaderKeyError

__all__ = ["ReaderKeyStore"]


@dataclass
class ReaderKeyStore:
    reader_id: bytes
    keys: dict[str, bytes] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        if len(self.reader_id) != READER_ID_LENGTH:
            raise ReaderKeyError(f"a reader id has {READER_ID_LENGTH} bytes, "
                                 f"got {len(self.reader_id)}")

    def __repr__(self) -> str:
        return f"ReaderKeyStore({self.reader_id.hex().upper()}, {len(self.keys)} card(s))"

    def key_for(self, card_id: str) -> bytes | None:
        return self.keys.get(card_id)

    def put(self, card_id: str, key: bytes) -> None:
        self.keys[card_id] = bytes(key)
        self.save()

    def remove(self, card_id: str) -> None:
        if self.keys.pop(card_id, None) is not None:
            self.save()

    @classmethod
    def create(cls, path: str | Path, reader_id: bytes) -> ReaderKeyStore:
        store = cls(bytes(reader_id), {}, Path(path))
        store.save()
        return store

    @classmethod
    def load(cls, path: str | Path) -> ReaderKeyStore:
        """The store in ``path``; :class:`ReaderKeyError` naming what is wrong."""
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            keys = {str(k): bytes.fromhex(v) for k, v in raw["cards"].items()}
            return cls(bytes.fromhex(raw["reader_id"]), keys, Path(path))
        except OSError as exc:
            raise ReaderKeyError(f"reader key store {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ReaderKeyError(f"reader key store {path} is malformed: {exc}") from None

    def save(self) -> None:
        """Written whole to a temporary file then renamed: a crash leaves the old or new store."""
        if self.path is None:
            return
        body = json.dumps({"reader_id": self.reader_id.hex().upper(),
                           "cards": {k: v.hex().upper() for k, v in sorted(self.keys.items())}},
                          indent=1)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.replace(temporary, self.path)
