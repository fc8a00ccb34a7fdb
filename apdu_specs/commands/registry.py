"""The registry every consumer of command specs reads."""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import SpecError
from .spec import CommandSpec

__all__ = ["all_specs", "candidates", "get", "register"]

_REGISTRY: dict[str, CommandSpec] = {}


def register(*specs: CommandSpec) -> None:
    for spec in specs:
        if spec.key in _REGISTRY and _REGISTRY[spec.key] is not spec:
            raise SpecError(f"command spec {spec.key} registered twice")
        _REGISTRY[spec.key] = spec


def get(key: str) -> CommandSpec:
    """Spec by ``application:NAME`` (or by bare name when it is unique)."""
    if key in _REGISTRY:
        return _REGISTRY[key]
    matches = [s for s in _REGISTRY.values() if s.name == key]
    if len(matches) == 1:
        return matches[0]
    raise SpecError(f"no unique command spec named {key!r}")


def all_specs() -> Iterator[CommandSpec]:
    yield from sorted(_REGISTRY.values(), key=lambda s: (s.application, s.ins, s.name))


def candidates(cla: int, ins: int, application: str | None = None) -> list[CommandSpec]:
    """Specs that could explain a command (INS is reused across applications)."""
    proprietary = bool(cla & 0x80)
    out = [s for s in _REGISTRY.values()
           if s.ins == ins and bool(s.cla & 0x80) == proprietary
           and (application is None or s.application == application)]
    return sorted(out, key=lambda s: s.key)
