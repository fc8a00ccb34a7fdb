"""The one seam for module-level caches, and the one switch that empties them.

A cache at module level outlives every object of the program, so it may hold only what
anybody may know and nobody needs to wipe: a pure function of public data (a parsed DOL,
a TLV layout, an encoded SELECT, a decoded registry record). Everything derived from a key
(a cipher context, a diversified key, a KCV, a decoded key set) is kept by the object that
owns the key — a key set, a session, a verifier, a chip — and goes with it (see
``docs/decisions.md``, D27).

Every module-level cache of the project is made here: :func:`pure_cache` (an LRU of a
function, always bounded) or :class:`BoundedCache` (a dict cleared when full, for keys an
LRU cannot take). Both register themselves, so :func:`clear_caches` empties every one of
them and :func:`cache_sizes` says what each holds. Clearing is always safe: the next call
computes the same answer again.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar

__all__ = ["BoundedCache", "cache_sizes", "clear_caches", "pure_cache"]

_F = TypeVar("_F", bound=Callable[..., Any])
_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")


class _Cache(Protocol):
    def cache_clear(self) -> None: ...

    def cache_size(self) -> int: ...


#: every module-level cache, by a name that says where it is (module.function)
_REGISTRY: dict[str, _Cache] = {}


class _LRU:
    """An ``lru_cache`` wrapper seen through the :class:`_Cache` protocol."""

    __slots__ = ("_cached",)

    def __init__(self, cached: Any) -> None:
        self._cached = cached

    def cache_clear(self) -> None:
        self._cached.cache_clear()

    def cache_size(self) -> int:
        return int(self._cached.cache_info().currsize)


def _register(name: str, cache: _Cache) -> None:
    if name in _REGISTRY:
        raise ValueError(f"a module-level cache named {name} exists already")
    _REGISTRY[name] = cache


def pure_cache(maxsize: int, *, typed: bool = False) -> Callable[[_F], _F]:
    """``functools.lru_cache(maxsize)`` for a pure function of public data, registered.

    Use it only where the arguments and the answer are public and immutable; a function
    of a key belongs on the key's owner. Failures are not kept: they raise every time.
    """
    if maxsize <= 0:
        raise ValueError("a module-level cache must be bounded")

    def wrap(function: _F) -> _F:
        cached = functools.lru_cache(maxsize=maxsize, typed=typed)(function)
        _register(f"{function.__module__}.{function.__qualname__}", _LRU(cached))
        return cached  # type: ignore[return-value]

    return wrap


class BoundedCache(dict[_K, _V]):
    """A registered dict of at most ``maxsize`` entries, emptied when full.

    For a cache whose lookup must do more than hash its arguments (checking that a hit
    belongs to the very object asked about, say). Reads are the dict's own (``get``); write
    with :meth:`put`, which keeps the bound."""

    __slots__ = ("_maxsize",)

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize <= 0:
            raise ValueError("a module-level cache must be bounded")
        super().__init__()
        self._maxsize = maxsize
        _register(name, self)

    def put(self, key: _K, value: _V) -> None:
        if len(self) >= self._maxsize:
            self.clear()
        self[key] = value

    def cache_clear(self) -> None:
        self.clear()

    def cache_size(self) -> int:
        return len(self)


def clear_caches() -> None:
    """Empty every module-level cache of every module imported so far.

    For a long-lived process that wants its memory back, and for tests that must start
    from cold caches. Caches owned by objects (a key set's ciphers, a verifier's card keys)
    are not touched: they go with their owner."""
    for cache in _REGISTRY.values():
        cache.cache_clear()


def cache_sizes() -> dict[str, int]:
    """How many entries each module-level cache holds, by name (``module.function``)."""
    return {name: cache.cache_size() for name, cache in sorted(_REGISTRY.items())}
