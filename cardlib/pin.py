"""A PIN with a try limit, as a card keeps it (ISO/IEC 7816-4 VERIFY semantics).

The try counter is decremented with an immediate write *before* the comparison,
as the first persistent write of every check, right PIN or wrong: power cut at any
point (before that write, or after it) shows nothing about the PIN that the counter
has not paid for, so tearing the card can never give a guesser a free try
(``tests/unit/test_pin_tearing.py``).
"""

from __future__ import annotations

import hmac

from apdu_specs.caches import pure_cache
from apdu_specs.sw import SW, SWError

from .memory import MemoryView, TransientMemory

__all__ = ["PIN"]


@pure_cache(maxsize=64)
def _keys_of(name: str) -> tuple[str, str, str, str]:
    """The memory keys of a PIN (value, limit, tries) and its RAM flag, named once."""
    return f"{name}.value", f"{name}.limit", f"{name}.tries", f"{name}.ok"


class PIN:
    def __init__(self, store: MemoryView, ram: TransientMemory, name: str = "pin",
                 try_limit: int = 3) -> None:
        self._store = store
        self._ram = ram
        self._name = name
        self._default_limit = try_limit
        self._value_key, self._limit_key, self._tries_key, self._ok_key = _keys_of(name)

    @property
    def is_set(self) -> bool:
        return self._store.get(self._value_key) is not None

    @property
    def try_limit(self) -> int:
        return int(self._store.get(self._limit_key, self._default_limit))

    @property
    def tries_left(self) -> int:
        return int(self._store.get(self._tries_key, self.try_limit))

    @property
    def blocked(self) -> bool:
        return self.is_set and self.tries_left == 0

    @property
    def validated(self) -> bool:
        return bool(self._ram.on_deselect.get(self._ok_key))

    def set(self, value: bytes, try_limit: int | None = None) -> None:
        """Personalise or change the PIN; resets the counter."""
        if try_limit is not None:
            if not 1 <= try_limit <= 15:
                raise SWError(SW.WRONG_DATA, "PIN try limit must be 1..15")
            self._store.set(self._limit_key, try_limit)
        self._store.set(self._value_key, bytes(value))
        self._store.set(self._tries_key, self.try_limit)

    def unblock(self, new_value: bytes | None = None) -> None:
        """Issuer action: reset the counter (and optionally the value)."""
        if new_value is not None:
            self._store.set(self._value_key, bytes(new_value))
        self._store.set_now(self._tries_key, self.try_limit)

    def check(self, candidate: bytes) -> int:
        """Return 0x9000 or 0x63Cx; raise 6983 when blocked, 6A88 when not personalised."""
        stored = self._store.get(self._value_key)
        if stored is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no PIN personalised")
        tries = self.tries_left
        if tries == 0:
            raise SWError(SW.AUTH_METHOD_BLOCKED)
        self._store.set_now(self._tries_key, tries - 1)
        if hmac.compare_digest(stored, bytes(candidate)):
            self._store.set_now(self._tries_key, self.try_limit)
            self._ram.on_deselect[self._ok_key] = True
            return SW.OK
        self._ram.on_deselect.pop(self._ok_key, None)
        return 0x63C0 | (tries - 1)

    def reset_validation(self) -> None:
        self._ram.on_deselect.pop(self._ok_key, None)
