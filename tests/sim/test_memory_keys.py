"""Listing keys stays exact through writes, deletes, nested transactions, aborts and tears.

:meth:`cardlib.memory.PersistentMemory.keys` answers from a cache; a state machine of
random operations checks every answer against the keys a plain model of the memory holds
(committed store plus open journals), so a stale cache entry cannot go unnoticed.
"""

from __future__ import annotations

import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cardlib.memory import PersistentMemory, PowerLoss

KEYS = st.sampled_from(["registry/A1", "registry/B2", "app/A1/x", "app/A1/y/z", "app/A1x/q",
                        "app/B2/x", "card/state", "card/state/x", "seq"])
PREFIXES = ["", "registry/", "app/", "app/A1/", "app/A1", "app/B2/", "app/A1/y/", "card/",
            "card/state/", "seq/", "reg", "app/A1/x"]
_GONE = object()


class MemoryKeys(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mem = PersistentMemory()
        self.store: dict[str, object] = {}
        self.journals: list[dict[str, object]] = []

    def _visible(self) -> set[str]:
        view = dict(self.store)
        for journal in self.journals:
            view.update(journal)
        return {k for k, v in view.items() if v is not _GONE}

    @rule(key=KEYS, value=st.integers(0, 3))
    def write(self, key: str, value: int) -> None:
        self.mem.write(key, value)
        (self.journals[-1] if self.journals else self.store)[key] = value

    @rule(key=KEYS, value=st.integers(0, 3))
    def write_now(self, key: str, value: int) -> None:
        self.mem.write_now(key, value)
        self.store[key] = value
        for journal in self.journals:
            journal.pop(key, None)

    @rule(key=KEYS)
    def delete(self, key: str) -> None:
        self.mem.delete(key)
        if self.journals:
            self.journals[-1][key] = _GONE
        else:
            self.store.pop(key, None)

    @rule()
    def begin(self) -> None:
        self.mem.begin()
        self.journals.append({})

    @precondition(lambda self: bool(self.journals))
    @rule()
    def commit(self) -> None:
        self.mem.commit()
        journal = self.journals.pop()
        if self.journals:
            self.journals[-1].update(journal)
        else:
            for key, value in journal.items():
                if value is _GONE:
                    self.store.pop(key, None)
                else:
                    self.store[key] = value

    @precondition(lambda self: bool(self.journals))
    @rule()
    def abort(self) -> None:
        self.mem.abort()
        self.journals.pop()

    @rule()
    def abort_all(self) -> None:
        self.mem.abort_all()
        self.journals.clear()

    @rule(key=KEYS)
    def torn_write(self, key: str) -> None:
        self.mem.arm_tear(1)
        with contextlib.suppress(PowerLoss):
            self.mem.write(key, 9)
        self.mem.power_up()
        if not self.journals:
            self.store[key] = 9
        self.journals.clear()

    @invariant()
    def keys_match_the_model(self) -> None:
        visible = self._visible()
        for prefix in PREFIXES:
            assert self.mem.keys(prefix) == sorted(k for k in visible if k.startswith(prefix))


MemoryKeys.TestCase.settings = settings(max_examples=120, stateful_step_count=40,
                                        deadline=None)
test_memory_keys = MemoryKeys.TestCase
