"""Which ISD command needs which security, and which may run in which card state.

One table, read by the ISD before dispatching every command (style lesson 7: one
boundary). Security requirements:

- ``NONE``: no secure channel needed (a plain command in an open session is processed
  without touching the session);
- ``AUTHENTICATED``: an open secure channel at any level, 00 included;
- ``C_MAC``: an open secure channel whose level includes C-MAC.

A plain command that needs more than ``NONE`` while a C-MAC session is open aborts
that session (6982), as a forged or replayed command would.

Card states: in CARD_LOCKED the ISD still authenticates, answers GET DATA and
GET STATUS, and accepts SET STATUS (to unlock or terminate); everything that changes
content or keys answers 6985. TERMINATED allows GET DATA only (the runtime already
refuses everything else there).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from apdu_specs.sw import SW, SWError
from cardlib.content import CardLifeCycle

__all__ = ["ACCESS", "CommandAccess", "Requirement", "access_for", "check_card_state"]


class Requirement(IntEnum):
    NONE = 0
    AUTHENTICATED = 1
    C_MAC = 2


@dataclass(frozen=True)
class CommandAccess:
    name: str
    requirement: Requirement
    when_locked: bool


ACCESS: dict[int, CommandAccess] = {
    0x50: CommandAccess("INITIALIZE UPDATE", Requirement.NONE, True),
    0x82: CommandAccess("EXTERNAL AUTHENTICATE", Requirement.NONE, True),
    0xCA: CommandAccess("GET DATA", Requirement.NONE, True),
    0xF2: CommandAccess("GET STATUS", Requirement.AUTHENTICATED, True),
    0xF0: CommandAccess("SET STATUS", Requirement.C_MAC, True),
    0xE6: CommandAccess("INSTALL", Requirement.C_MAC, False),
    0xE4: CommandAccess("DELETE", Requirement.C_MAC, False),
    0xD8: CommandAccess("PUT KEY", Requirement.C_MAC, False),
    0xE2: CommandAccess("STORE DATA", Requirement.C_MAC, False),
}

_UNKNOWN = CommandAccess("unknown", Requirement.NONE, True)


def access_for(ins: int) -> CommandAccess:
    return ACCESS.get(ins, _UNKNOWN)


def check_card_state(card_state: int, ins: int) -> None:
    """Raise 6985 when the card's life cycle state forbids the command."""
    if card_state != CardLifeCycle.TERMINATED and card_state != CardLifeCycle.CARD_LOCKED:
        return  # only those two states refuse commands
    access = access_for(ins)
    if card_state == CardLifeCycle.TERMINATED and ins != 0xCA:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, "card terminated")
    if card_state == CardLifeCycle.CARD_LOCKED and not access.when_locked:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, f"{access.name} refused: card locked")
