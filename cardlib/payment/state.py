"""What a payment application keeps: persistent counters and flags, and per-selection RAM.

Persistent (in the applet's memory view, so tearing, images and snapshots see it):

- ``atc`` — application transaction counter, incremented by GET PROCESSING OPTIONS
  inside that command's transaction. A cryptogram is only ever computed with the ATC
  value the same selection committed (``Session.gpo_atc``), so a torn or rolled-back
  GPO can never lead to a cryptogram under an ATC used before.
- ``last_online_atc`` (9F13), ``offline_count`` (transactions since the last
  issuer-authenticated online approval), ``offline_amount`` (offline-approved amount
  since then), ``flags`` (the history the CVR reports), ``scripts_last`` /
  ``scripts_now`` (issuer script commands of the previous / current transaction).

RAM (:class:`Session`, cleared on deselect and reset): what this transaction did so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntFlag

from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.cvr import CardHistory
from apdu_specs.payment.issuer_response import IssuerAuthenticationData
from cardlib.memory import MemoryView, TransientMemory
from cardlib.pin import PIN

__all__ = ["Flags", "IssuerAuth", "PaymentState", "Session", "payment_pin", "session_of"]


class Flags(IntFlag):
    LAST_ONLINE_INCOMPLETE = 0x01
    ISSUER_AUTH_FAILED_LAST = 0x02
    ISSUER_AUTH_NOT_PERFORMED_LAST = 0x04
    GO_ONLINE_NEXT = 0x08
    BLOCKED = 0x10


NO_FLAGS = Flags(0)


class IssuerAuth(Enum):
    OK = "ok"
    FAILED = "failed"


@dataclass
class FirstAC:
    kind: ACType
    cdol1_data: bytes
    cryptogram: bytes
    history: CardHistory
    amount: int | None
    currency_matches: bool


@dataclass
class Session:
    """One selection's transaction progress (RAM)."""

    gpo_atc: int | None = None
    pin_tried: bool = False
    pin_failed: bool = False
    first: FirstAC | None = None
    issuer_auth: IssuerAuth | None = None
    issuer_data: IssuerAuthenticationData | None = None
    second: ACType | None = None
    pdol_data: bytes = field(default=b"")


class PaymentState:
    """Typed access to the persistent counters (one instance per command is fine)."""

    def __init__(self, store: MemoryView) -> None:
        self._store = store

    def _int(self, key: str) -> int:
        return int(self._store.get(key, 0))

    @property
    def atc(self) -> int:
        return self._int("atc")

    @atc.setter
    def atc(self, value: int) -> None:
        self._store.set("atc", value)

    @property
    def last_online_atc(self) -> int:
        return self._int("last_online_atc")

    @last_online_atc.setter
    def last_online_atc(self, value: int) -> None:
        self._store.set("last_online_atc", value)

    @property
    def offline_count(self) -> int:
        return self._int("offline_count")

    @offline_count.setter
    def offline_count(self, value: int) -> None:
        self._store.set("offline_count", min(value, 0xFF))

    @property
    def offline_amount(self) -> int:
        return self._int("offline_amount")

    @offline_amount.setter
    def offline_amount(self, value: int) -> None:
        self._store.set("offline_amount", value)

    @property
    def flags(self) -> Flags:
        return Flags(self._int("flags"))

    def set_flags(self, add: Flags = NO_FLAGS, remove: Flags = NO_FLAGS) -> None:
        new = (self.flags | add) & ~remove
        if new != self.flags:
            self._store.set("flags", int(new))

    def set_flag_now(self, flag: Flags) -> None:
        """Durable even if the command then fails (a failed issuer authentication)."""
        if not self.flags & flag:
            self._store.set_now("flags", int(self.flags | flag))

    @property
    def blocked(self) -> bool:
        return bool(self.flags & Flags.BLOCKED)

    # issuer scripts: (count, failed) of the current and of the previous transaction
    def scripts(self, which: str) -> tuple[int, bool]:
        count, failed = self._store.get(f"scripts_{which}", (0, False))
        return int(count), bool(failed)

    def start_transaction_scripts(self) -> None:
        now = self.scripts("now")
        if now != self.scripts("last"):
            self._store.set("scripts_last", now)
        if now != (0, False):
            self._store.set("scripts_now", (0, False))

    def count_script(self) -> None:
        count, failed = self.scripts("now")
        self._store.set("scripts_now", (min(count + 1, 15), failed))

    def script_failed_now(self) -> None:
        count, _ = self.scripts("now")
        self._store.set_now("scripts_now", (count, True))


def session_of(ram: TransientMemory) -> Session:
    """This selection's session (a new one after deselect or reset)."""
    return ram.on_deselect.setdefault("session", Session())


def payment_pin(store: MemoryView, ram: TransientMemory) -> PIN:
    """The application's offline PIN (its validation lasts until deselect)."""
    return PIN(store, ram, "pin")
