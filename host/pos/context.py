"""What every flow of a terminal shares: who it is, whom it talks to, where it writes,
its clock and its source of unpredictable numbers (both injectable for replayable runs)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from host.payment.client import PaymentClient
from host.payment.terminal import TerminalProfile
from host.points.client import PointsClient
from host.points.security_module import PurchaseSecurityModule
from host.transport.base import NoCardError, Transport

from .journal import Journal
from .link import BackOfficeLink
from .merchant import MerchantIdentity

__all__ = ["CardClients", "EmptySlot", "TerminalContext", "local_now"]

#: China Standard Time, the alliance's business time zone
CST = dt.timezone(dt.timedelta(hours=8))


def local_now() -> dt.datetime:
    """The wall clock in China Standard Time, to the second."""
    return dt.datetime.now(CST).replace(microsecond=0)


@dataclass
class TerminalContext:
    merchant: MerchantIdentity
    link: BackOfficeLink
    journal: Journal
    sam: PurchaseSecurityModule
    profile: TerminalProfile = field(default_factory=TerminalProfile)
    #: an aware clock; the card and the slip see its local wall time
    clock: Callable[[], dt.datetime] = local_now
    unpredictable: Callable[[], bytes] = field(default=lambda: os.urandom(4))

    def now(self) -> dt.datetime:
        when = self.clock()
        if when.tzinfo is None:
            raise ValueError("the terminal clock must give timezone-aware times")
        return when

    @staticmethod
    def card_time(when: dt.datetime) -> dt.datetime:
        """The local wall time a card records (no zone, whole seconds)."""
        return when.replace(tzinfo=None, microsecond=0)


class CardClients:
    """The typed clients of the card in the reader: chip 1 (payment), chip 2 (points)."""

    def __init__(self, chip1: Transport, chip2: Transport) -> None:
        self.chip1 = chip1
        self.chip2 = chip2
        self.payment = PaymentClient(chip1)
        self.points = PointsClient(chip2)


class EmptySlot:
    """A reader slot without a card: for a terminal that only uploads, or waits for one."""

    atr = b""

    def connect(self) -> None:
        """Nothing to power."""

    def disconnect(self) -> None:
        """Nothing to release."""

    def reset(self) -> bytes:
        raise NoCardError("no card in the reader")

    def transmit(self, apdu: bytes) -> bytes:
        raise NoCardError("no card in the reader")
