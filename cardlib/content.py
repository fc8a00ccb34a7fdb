"""What is installed on a chip, and in which life cycle state (GlobalPlatform registry).

Records live in the chip's persistent memory under ``registry/``, so INSTALL,
DELETE and SET STATUS are atomic like every other command and survive images.
Applet *instances* are rebuilt from records on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from apdu_specs.caches import pure_cache
from apdu_specs.commands.gp_extra import CARD_STATE_NAMES, app_state_name
from apdu_specs.sw import SW, SWError

from .applet import Applet, AppletEnv
from .memory import PersistentMemory, TransientMemory
from .registry import find_module

__all__ = ["AppLifeCycle", "AppRecord", "CardLifeCycle", "ChipContent", "selectable_in_card_state"]


class CardLifeCycle:
    """GP card life cycle states (GP 2.3 §5.1.1)."""

    OP_READY = 0x01
    INITIALIZED = 0x07
    SECURED = 0x0F
    CARD_LOCKED = 0x7F
    TERMINATED = 0xFF
    NAMES: ClassVar[dict[int, str]] = CARD_STATE_NAMES


class AppLifeCycle:
    """GP application life cycle states (GP 2.3 §5.3.1)."""

    INSTALLED = 0x03
    SELECTABLE = 0x07
    PERSONALIZED = 0x0F
    LOCKED_BIT = 0x80

    name = staticmethod(app_state_name)

    @staticmethod
    def selectable(state: int) -> bool:
        return state & 0x07 == 0x07 and not state & 0x80


def selectable_in_card_state(card_state: int, is_security_domain: bool) -> bool:
    """GPC 2.3 §5.1.1.4: a locked card lets only its security domains be selected."""
    if card_state == CardLifeCycle.TERMINATED:
        return False
    return card_state != CardLifeCycle.CARD_LOCKED or is_security_domain


@dataclass(frozen=True)
class AppRecord:
    aid: bytes
    load_file_aid: bytes
    module_aid: bytes
    state: int
    privileges: bytes
    params: bytes
    order: int

    @property
    def is_security_domain(self) -> bool:
        return bool(self.privileges[:1] and self.privileges[0] & 0x80)

    @property
    def default_selected(self) -> bool:
        return bool(self.privileges[:1] and self.privileges[0] & 0x04)

    def as_value(self) -> tuple[Any, ...]:
        return (self.load_file_aid, self.module_aid, self.state, self.privileges, self.params,
                self.order)

    @classmethod
    def from_value(cls, aid: bytes, value: tuple[Any, ...]) -> AppRecord:
        if cls is AppRecord:
            return _record_of(aid, value)
        lf, mod, state, privs, params, order = value
        return cls(aid, lf, mod, state, privs, params, order)


@pure_cache(maxsize=1024)
def _record_of(aid: bytes, value: tuple[Any, ...]) -> AppRecord:
    """Records are decoded on every SELECT: a pure function of the stored (immutable)
    value, so the frozen record is built once per value."""
    lf, mod, state, privs, params, order = value
    return AppRecord(aid, lf, mod, state, privs, params, order)


def _order(rec: AppRecord) -> int:
    return rec.order


@pure_cache(maxsize=1024)
def _aid_of_key(key: str) -> bytes:
    return bytes.fromhex(key.split("/", 1)[1])


@pure_cache(maxsize=1024)
def _registry_key(aid: bytes) -> str:
    """The memory key of an application's record (every command names one or two)."""
    return "registry/" + aid.hex().upper()


@pure_cache(maxsize=1024)
def _app_prefix(aid: bytes) -> str:
    return "app/" + aid.hex().upper() + "/"


class ChipContent:
    """Installed applications of one chip and their instances."""

    def __init__(self, memory: PersistentMemory, services: dict[str, Any],
                 random: Callable[[int], bytes]) -> None:
        self._mem = memory
        self._services = services
        self._random = random
        self._instances: dict[bytes, Applet] = {}
        self._ram: dict[bytes, TransientMemory] = {}

    # --- card life cycle ------------------------------------------------------------
    @property
    def card_state(self) -> int:
        state = self._mem.read("card/state", CardLifeCycle.OP_READY)
        return state if type(state) is int else int(state)

    def set_card_state(self, state: int) -> None:
        self._mem.write("card/state", state)

    # --- registry -------------------------------------------------------------------
    def records(self) -> list[AppRecord]:
        read = self._mem.read
        out = [_record_of(_aid_of_key(key), read(key)) for key in self._mem.keys("registry/")]
        return sorted(out, key=_order)

    def record(self, aid: bytes) -> AppRecord | None:
        if type(aid) is not bytes:
            aid = bytes(aid)
        value = self._mem.read(_registry_key(aid))
        return None if value is None else _record_of(aid, value)

    def _put(self, aid: bytes, value: tuple[Any, ...]) -> AppRecord:
        """Store a record's value; the record is decoded from it (shared by equal values)."""
        self._mem.write(_registry_key(aid), value)
        return _record_of(aid, value)

    def install(self, load_file_aid: bytes, module_aid: bytes, aid: bytes, *,
                privileges: bytes = b"\x00", params: bytes = b"",
                make_selectable: bool = True) -> AppRecord:
        """Instantiate a registered applet class under ``aid`` (GP INSTALL [for install])."""
        if not 5 <= len(aid) <= 16:
            raise SWError(SW.WRONG_DATA, "an AID has 5 to 16 bytes")
        cls = find_module(load_file_aid, module_aid)
        if cls is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND,
                          f"no module {module_aid.hex().upper()} in load file "
                          f"{load_file_aid.hex().upper()}")
        if self.record(aid) is not None:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, f"{aid.hex().upper()} already installed")
        order = int(self._mem.read("card/install_seq", 0)) + 1
        self._mem.write("card/install_seq", order)
        state = AppLifeCycle.SELECTABLE if make_selectable else AppLifeCycle.INSTALLED
        rec = self._put(bytes(aid), (bytes(load_file_aid), bytes(module_aid), state,
                                     bytes(privileges), bytes(params), order))
        self._instances.pop(rec.aid, None)
        self.instance(rec.aid).on_install(params)
        return rec

    def delete(self, aid: bytes) -> None:
        rec = self.record(aid)
        if rec is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no such application")
        self.instance(aid).on_delete()
        self._mem.delete(_registry_key(rec.aid))
        for key in self._mem.keys(self._prefix(rec.aid)):
            self._mem.delete(key)
        self._instances.pop(rec.aid, None)
        self._ram.pop(rec.aid, None)

    def set_app_state(self, aid: bytes, state: int) -> AppRecord:
        rec = self.record(aid)
        if rec is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no such application")
        return self._put_state(rec, state)

    def _put_state(self, rec: AppRecord, state: int) -> AppRecord:
        return self._put(rec.aid, (rec.load_file_aid, rec.module_aid, state, rec.privileges,
                                   rec.params, rec.order))

    def mark_personalized(self, aid: bytes) -> None:
        """SELECTABLE → PERSONALIZED, as an application does itself at the end of its
        personalisation; any other state is left as it is."""
        rec = self.record(aid)
        if rec is not None and rec.state == AppLifeCycle.SELECTABLE:
            self._put_state(rec, AppLifeCycle.PERSONALIZED)

    # --- instances ------------------------------------------------------------------
    @staticmethod
    def _prefix(aid: bytes) -> str:
        return _app_prefix(aid)

    def instance(self, aid: bytes) -> Applet:
        if type(aid) is not bytes:
            aid = bytes(aid)
        inst = self._instances.get(aid)
        if inst is not None:
            return inst
        rec = self.record(aid)
        if rec is None:
            raise SWError(SW.FILE_NOT_FOUND)
        cls = find_module(rec.load_file_aid, rec.module_aid)
        if cls is None:
            raise SWError(SW.FILE_NOT_FOUND, "the applet's load file is not available")
        ram = self._ram.setdefault(aid, TransientMemory())
        inst = cls(AppletEnv(aid, self._mem.view(self._prefix(aid)), ram, self._services,
                             self._random))
        self._instances[aid] = inst
        return inst

    def ram_of(self, aid: bytes) -> TransientMemory:
        return self._ram.setdefault(bytes(aid), TransientMemory())

    def clear_all_ram(self) -> None:
        for ram in self._ram.values():
            ram.clear_reset()

    def forget_instances(self) -> None:
        """Drop cached instances (after the memory was replaced by a snapshot)."""
        self._instances.clear()
        self._ram.clear()

    def find(self, partial_aid: bytes, after: bytes | None = None) -> AppRecord | None:
        """First (or next after ``after``) selectable application whose AID starts so."""
        candidates = [r for r in self.records()
                      if r.aid.startswith(bytes(partial_aid))]
        if after is not None:
            idx = next((i for i, r in enumerate(candidates) if r.aid == after), None)
            candidates = candidates[idx + 1:] if idx is not None else candidates
        return candidates[0] if candidates else None

    def selectable(self, rec: AppRecord) -> bool:
        """GP 2.3 §5.1.1.4 / §5.3: may this application be selected now?

        A locked card lets only its security domains be selected; a locked or
        merely INSTALLED application cannot be selected.
        """
        if not selectable_in_card_state(self.card_state, rec.is_security_domain):
            return False
        return rec.is_security_domain or AppLifeCycle.selectable(rec.state)

    def default_application(self) -> AppRecord | None:
        recs = self.records()
        for rec in recs:
            if rec.default_selected and self.selectable(rec):
                return rec
        return next((r for r in recs if r.is_security_domain), None)
