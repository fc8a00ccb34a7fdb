"""The persistent state of one purse: parameters, keys, balance, counters and log.

Everything lives in the applet's :class:`~cardlib.memory.MemoryView` under ``purseN/``,
so a snapshot, an image or a tear restores it exactly; this class only names the keys
and types the values. Writes go through the command's transaction (``set``), so the
applet decides what moves together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apdu_specs.caches import pure_cache
from apdu_specs.commands.purse_data import Purse, algorithm_for_id
from apdu_specs.crypto.purse import PurseScheme
from apdu_specs.sw import SW, SWError
from cardlib.memory import MemoryView

from .log import PurseLog

__all__ = ["PurseKey", "PurseParams", "PurseState"]

#: a sequence number at this value is exhausted: using it would need 0x10000 next
SEQ_LIMIT = 0xFFFF


@dataclass(frozen=True)
class PurseParams:
    algorithm_id: int
    max_balance: int
    options: int

    @property
    def scheme(self) -> PurseScheme:
        return PurseScheme(algorithm_for_id(self.algorithm_id))


@dataclass(frozen=True)
class PurseKey:
    """A purse key and its version; the repr never shows the key."""

    version: int
    key: bytes = field(repr=False)


@pure_cache(maxsize=256)
def _params_of(value: tuple[int, int, int]) -> PurseParams:
    """Stored parameters, decoded once per (immutable) value: the frozen result is shared."""
    return PurseParams(*value)


#: each purse's key prefix and its log's (a purse's state is built several times per command)
_PREFIXES = {purse: f"purse{purse.value}/" for purse in Purse}
_LOG_PREFIXES = {purse: prefix + "log/" for purse, prefix in _PREFIXES.items()}


class PurseState:
    """Typed access to one purse's records in the applet's memory."""

    def __init__(self, store: MemoryView, purse: Purse | int) -> None:
        self.purse = purse if type(purse) is Purse else Purse(purse)
        self._store = store
        self._p = _PREFIXES[self.purse]
        self.log = PurseLog(store, _LOG_PREFIXES[self.purse])

    # --- parameters and keys ---------------------------------------------------------
    @property
    def params(self) -> PurseParams | None:
        value = self._store.get(self._p + "params")
        return None if value is None else _params_of(value)

    def set_params(self, params: PurseParams) -> None:
        self._store.set(self._p + "params",
                        (params.algorithm_id, params.max_balance, params.options))

    def require(self) -> PurseParams:
        """The parameters of a usable purse (personalised, with its TAC key), else 6A88."""
        params = self.params
        if params is None or self.tac_key is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND,
                          f"{self.purse.label} purse not personalised")
        return params

    def _key(self, name: str) -> PurseKey | None:
        value = self._store.get(self._p + name)
        return None if value is None else PurseKey(*value)

    def load_key(self, index: int) -> PurseKey | None:
        return self._key(f"key/load/{index}")

    def purchase_key(self, index: int) -> PurseKey | None:
        return self._key(f"key/purchase/{index}")

    @property
    def tac_key(self) -> PurseKey | None:
        return self._key("key/tac")

    @property
    def has_tac_key(self) -> bool:
        """Is the TAC key personalised? (without building the key)"""
        return self._store.get(self._p + "key/tac") is not None

    @property
    def has_params(self) -> bool:
        """Is the purse personalised? (without decoding its parameters)"""
        return self._store.get(self._p + "params") is not None

    def set_load_key(self, index: int, key: PurseKey) -> None:
        self._store.set(self._p + f"key/load/{index}", (key.version, key.key))

    def set_purchase_key(self, index: int, key: PurseKey) -> None:
        self._store.set(self._p + f"key/purchase/{index}", (key.version, key.key))

    def set_tac_key(self, key: PurseKey) -> None:
        self._store.set(self._p + "key/tac", (key.version, key.key))

    # --- value ------------------------------------------------------------------------
    @property
    def balance(self) -> int:
        return int(self._store.get(self._p + "balance", 0))

    @balance.setter
    def balance(self, value: int) -> None:
        self._store.set(self._p + "balance", value)

    @property
    def online_seq(self) -> int:
        """Sequence number the next load uses."""
        return int(self._store.get(self._p + "online", 0))

    @online_seq.setter
    def online_seq(self, value: int) -> None:
        self._store.set(self._p + "online", value)

    @property
    def offline_seq(self) -> int:
        """Sequence number the next purchase uses."""
        return int(self._store.get(self._p + "offline", 0))

    @offline_seq.setter
    def offline_seq(self, value: int) -> None:
        self._store.set(self._p + "offline", value)
