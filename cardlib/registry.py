"""Load files: the applet classes a chip can instantiate with INSTALL.

A real card receives executable load files with LOAD; a simulated chip knows
the applet classes registered here (ours, and others' through the
``dualcard.applets`` entry-point group), each under a load file AID and a
module AID, so that INSTALL works as on a card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from .applet import Applet

__all__ = ["LoadFile", "all_load_files", "find_module", "load_entry_points", "register_load_file"]

ENTRY_POINT_GROUP = "dualcard.applets"


@dataclass(frozen=True)
class LoadFile:
    aid: bytes
    name: str
    modules: dict[bytes, type[Applet]] = field(default_factory=dict)
    version: str = "1.0"


_LOAD_FILES: dict[bytes, LoadFile] = {}
_entry_points_loaded = False


def register_load_file(load_file: LoadFile) -> LoadFile:
    existing = _LOAD_FILES.get(load_file.aid)
    if existing is not None and existing != load_file:
        raise ValueError(f"load file {load_file.aid.hex().upper()} already registered "
                         f"as {existing.name}")
    _LOAD_FILES[load_file.aid] = load_file
    return load_file


def load_entry_points() -> None:
    """Register the load files that installed distributions declare."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        if isinstance(obj, LoadFile):
            register_load_file(obj)


def all_load_files() -> list[LoadFile]:
    load_entry_points()
    return sorted(_LOAD_FILES.values(), key=lambda lf: lf.aid)


def find_load_file(aid: bytes) -> LoadFile | None:
    load_entry_points()
    return _LOAD_FILES.get(bytes(aid))


def find_module(load_file_aid: bytes, module_aid: bytes) -> type[Applet] | None:
    lf = find_load_file(load_file_aid)
    if lf is None:
        return None
    return lf.modules.get(bytes(module_aid))
