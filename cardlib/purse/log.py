"""A purse's cyclic transaction log: the last ``LOG_CAPACITY`` movements, newest first.

Each entry lives under its own key (slot = entries written so far, modulo the capacity) next to
a count of entries ever written. Appending writes the slot and the count through the
command's transaction, so a log entry appears exactly when its balance and counter
change. Entries keep the MAC2 of their exchange as well, for GET TRANSACTION PROVE; READ
RECORD does not show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from apdu_specs.commands.purse_data import LOG_CAPACITY, LOG_RECORD, build_layout
from cardlib.memory import MemoryView

__all__ = ["LogEntry", "PurseLog"]


@dataclass(frozen=True)
class LogEntry:
    """One movement: what its TAC covers, plus the exchange's MAC2."""

    counter: int
    type: int
    amount: int
    balance_after: int
    terminal_id: bytes
    terminal_seq: int
    time: bytes  # 7 BCD bytes YYYYMMDDhhmmss
    tac: bytes
    mac2: bytes

    def as_value(self) -> tuple:
        return (self.counter, self.type, self.amount, self.balance_after, self.terminal_id,
                self.terminal_seq, self.time, self.tac, self.mac2)

    @classmethod
    def from_value(cls, value: tuple) -> LogEntry:
        return cls(*value)

    def record(self) -> bytes:
        """The entry as READ RECORD returns it (without the MAC2)."""
        return build_layout(LOG_RECORD, {
            "counter": self.counter, "type": self.type, "amount": self.amount,
            "balance_after": self.balance_after, "terminal_id": self.terminal_id,
            "terminal_seq": self.terminal_seq, "date": self.time[:4], "time": self.time[4:],
            "tac": self.tac}, "log record")


class PurseLog:
    """The cyclic log of one purse inside the applet's memory."""

    def __init__(self, store: MemoryView, prefix: str) -> None:
        self._store = store
        self._prefix = prefix

    @property
    def written(self) -> int:
        """Entries ever appended (the newest is number ``written``)."""
        return int(self._store.get(f"{self._prefix}count", 0))

    def __len__(self) -> int:
        return min(self.written, LOG_CAPACITY)

    def append(self, entry: LogEntry) -> None:
        count = self.written
        self._store.set(f"{self._prefix}{count % LOG_CAPACITY}", entry.as_value())
        self._store.set(f"{self._prefix}count", count + 1)

    def record(self, number: int) -> LogEntry | None:
        """Record ``number`` (1 = most recent), or None if the log holds no such record."""
        if not 1 <= number <= len(self):
            return None
        slot = (self.written - number) % LOG_CAPACITY
        return LogEntry.from_value(self._store.get(f"{self._prefix}{slot}"))

    def __iter__(self) -> Iterator[LogEntry]:
        for number in range(1, len(self) + 1):
            entry = self.record(number)
            if entry is not None:
                yield entry

    def find(self, type_: int, counter: int) -> LogEntry | None:
        """The logged movement of this type that used this sequence number."""
        return next((e for e in self if e.type == type_ and e.counter == counter), None)
