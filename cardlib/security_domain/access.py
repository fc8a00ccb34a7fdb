"""Which ISD command needs which security, and which may run in which card state.

One table, read by the ISD before dispatching every command (style lesson 7: one
boundary). Security requirements:

- ``NONE``: no secure channel needed (a plain command in an open session is processed
  without touching the session);
- ``AUTHENTICATED``: an open secure channel at any level, 00 included;
- ``C_MAC``: an open secure channel whose level includes C-MAC.

EXTERNAL AUTHENTICATE needs nothing but brings its *own* C-MAC, computed with the
pending handshake's keys rather than an open session's: it is not unwrapped before
dispatch (``own_mac``); its handler checks that MAC.

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

from apdu_specs.commands.globalplatform import (
    DELETE,
    EXTERNAL_AUTHENTICATE,
    GET_STATUS,
    INITIALIZE_UPDATE,
    INSTALL,
    PUT_KEY,
    SET_STATUS,
    STORE_DATA,
)
from apdu_specs.commands.iso7816 import GET_DATA
from apdu_specs.commands.spec import CommandSpec
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
    #: the command carries a C-MAC its handler verifies (not the session's secure messaging)
    own_mac: bool = False


def _entry(spec: CommandSpec, requirement: Requirement, when_locked: bool, *,
           own_mac: bool = False) -> tuple[int, CommandAccess]:
    return spec.ins, CommandAccess(spec.name, requirement, when_locked, own_mac)


#: by INS (the ISD looks it up before dispatch; DELETE KEY shares DELETE's INS and entry)
ACCESS: dict[int, CommandAccess] = dict((
    _entry(INITIALIZE_UPDATE, Requirement.NONE, True),
    _entry(EXTERNAL_AUTHENTICATE, Requirement.NONE, True, own_mac=True),
    _entry(GET_DATA, Requirement.NONE, True),
    _entry(GET_STATUS, Requirement.AUTHENTICATED, True),
    _entry(SET_STATUS, Requirement.C_MAC, True),
    _entry(INSTALL, Requirement.C_MAC, False),
    _entry(DELETE, Requirement.C_MAC, False),
    _entry(PUT_KEY, Requirement.C_MAC, False),
    _entry(STORE_DATA, Requirement.C_MAC, False),
))
_GET_DATA = GET_DATA.ins

_UNKNOWN = CommandAccess("unknown", Requirement.NONE, True)


def access_for(ins: int) -> CommandAccess:
    return ACCESS.get(ins, _UNKNOWN)


def check_card_state(card_state: int, ins: int) -> None:
    """Raise 6985 when the card's life cycle state forbids the command."""
    if card_state != CardLifeCycle.TERMINATED and card_state != CardLifeCycle.CARD_LOCKED:
        return  # only those two states refuse commands
    access = access_for(ins)
    if card_state == CardLifeCycle.TERMINATED and ins != _GET_DATA:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, "card terminated")
    if card_state == CardLifeCycle.CARD_LOCKED and not access.when_locked:
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, f"{access.name} refused: card locked")
