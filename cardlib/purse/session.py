"""What INITIALIZE FOR LOAD / PURCHASE hands to the command that completes it.

A session lives in RAM cleared on deselect and on reset: after a power loss, a reset or
another selection there is nothing to complete, and CREDIT/DEBIT answer 6985. Each
session is used at most once, whatever the outcome, so every MAC guess costs an
INITIALIZE with a fresh card random. A completion sent with a wrong Le has used its
session too; the runtime holds its answer, uncommitted, for the re-send with the right
Le (docs/decisions.md D4), so the movement is not lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.purse import PurseScheme
from apdu_specs.sw import SW, SWError
from cardlib.memory import TransientMemory

__all__ = ["LoadSession", "PurchaseSession", "clear_session", "start_session", "take_session"]

_KEY = "purse.session"


@dataclass(frozen=True)
class LoadSession:
    purse: Purse
    scheme: PurseScheme
    amount: int
    terminal_id: bytes
    balance: int
    seq: int
    seslk: bytes = field(repr=False)


@dataclass(frozen=True)
class PurchaseSession:
    purse: Purse
    scheme: PurseScheme
    amount: int
    terminal_id: bytes
    balance: int
    seq: int
    random: bytes = field(repr=False)
    dpk: bytes = field(repr=False)


Session = LoadSession | PurchaseSession
S = TypeVar("S", LoadSession, PurchaseSession)


def start_session(ram: TransientMemory, session: Session) -> None:
    ram.on_deselect[_KEY] = session


def clear_session(ram: TransientMemory) -> None:
    ram.on_deselect.pop(_KEY, None)


def take_session(ram: TransientMemory, kind: type[S]) -> S:
    """Remove and return the pending session of ``kind``; 6985 if there is none."""
    session = ram.on_deselect.pop(_KEY, None)
    if not isinstance(session, kind):
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, f"no {kind.__name__} pending")
    return session
