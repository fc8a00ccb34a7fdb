"""Card and application life cycle transitions the ISD allows (GPC 2.3 §5.1, §5.3).

Card (SET STATUS P1=80)::

    OP_READY ──► INITIALIZED ──► SECURED ◄──► CARD_LOCKED
        │             │             │              │
        └─────────────┴─────────────┴──────────────┴──► TERMINATED (from any state)

Forward moves may skip INITIALIZED; nothing goes back to OP_READY or INITIALIZED, and
TERMINATED is final. CARD_LOCKED ↔ SECURED needs the ISD's card lock privilege.

Application (SET STATUS P1=40, P2 = requested state):

- P2 with b8 set locks: the current state gains b8 (07 → 87, 0F → 8F), so unlocking
  restores exactly the state it had;
- P2 = 00 unlocks (clears b8); unlocking an application that is not locked is refused;
- P2 with b1–b3 = 111 and b8 clear sets an application-specific state (e.g. 0F
  PERSONALIZED), allowed from any selectable, unlocked state.

Selection in CARD_LOCKED: only security domains may be selected
(:func:`selectable_in_card_state`, for the runtime's SELECT).
"""

from __future__ import annotations

from apdu_specs.sw import SW, SWError
from cardlib.content import AppLifeCycle, CardLifeCycle, selectable_in_card_state

__all__ = [
    "CARD_TRANSITIONS",
    "check_card_transition",
    "next_app_state",
    "selectable_in_card_state",
]

_C = CardLifeCycle

CARD_TRANSITIONS: dict[int, frozenset[int]] = {
    _C.OP_READY: frozenset({_C.INITIALIZED, _C.SECURED, _C.TERMINATED}),
    _C.INITIALIZED: frozenset({_C.SECURED, _C.TERMINATED}),
    _C.SECURED: frozenset({_C.CARD_LOCKED, _C.TERMINATED}),
    _C.CARD_LOCKED: frozenset({_C.SECURED, _C.TERMINATED}),
    _C.TERMINATED: frozenset(),
}


def _name(state: int) -> str:
    return _C.NAMES.get(state, f"{state:02X}")


def check_card_transition(current: int, new: int) -> None:
    """Raise 6A80 for an unknown state, 6985 for a move the table does not allow."""
    if new not in CARD_TRANSITIONS:
        raise SWError(SW.WRONG_DATA, f"{new:02X} is not a card life cycle state")
    if new not in CARD_TRANSITIONS.get(current, frozenset()):
        raise SWError(SW.CONDITIONS_NOT_SATISFIED,
                      f"card cannot go from {_name(current)} to {_name(new)}")


def next_app_state(current: int, requested: int) -> int:
    """The application state SET STATUS P2 asks for, or an SWError (6985 / 6A80)."""
    locked = bool(current & AppLifeCycle.LOCKED_BIT)
    if requested & AppLifeCycle.LOCKED_BIT:
        if locked:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "application already locked")
        return current | AppLifeCycle.LOCKED_BIT
    if requested == 0x00:
        if not locked:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "application is not locked")
        return current & ~AppLifeCycle.LOCKED_BIT & 0xFF
    if requested & 0x07 != 0x07:
        raise SWError(SW.WRONG_DATA, f"{requested:02X} is not an application-specific state")
    if locked or not AppLifeCycle.selectable(current):
        raise SWError(SW.CONDITIONS_NOT_SATISFIED,
                      f"application in state {AppLifeCycle.name(current)} cannot change state")
    return requested


