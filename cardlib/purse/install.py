"""Register the purse's load file, and install + personalise it on a chip without an SD.

On a card the security domain does this with INSTALL and STORE DATA; tests, images and
demos that do not need the secure channel use :func:`install_purse`, which runs the
same steps in one memory transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from apdu_specs.commands.purse_data import PURSE_AID, PURSE_LOAD_FILE_AID, PURSE_MODULE_AID
from cardlib.chip import Chip
from cardlib.content import AppLifeCycle
from cardlib.registry import LoadFile, register_load_file

from .applet import PointsPurseApplet

__all__ = ["PURSE_LOAD_FILE", "install_purse"]

PURSE_LOAD_FILE = register_load_file(
    LoadFile(PURSE_LOAD_FILE_AID, "points purse", {PURSE_MODULE_AID: PointsPurseApplet}))


def install_purse(chip: Chip, dgis: Iterable[tuple[int, bytes]], *,
                  aid: bytes = PURSE_AID) -> PointsPurseApplet:
    """Install the purse under ``aid`` on ``chip`` and apply ``dgis`` (all or nothing)."""
    with chip.memory.transaction():
        chip.content.install(PURSE_LOAD_FILE_AID, PURSE_MODULE_AID, aid)
        applet = chip.content.instance(aid)
        if not isinstance(applet, PointsPurseApplet):  # another class under our load file
            raise TypeError(f"{aid.hex().upper()} is not a points purse")
        for dgi, data in dgis:
            applet.personalize(dgi, bytes(data))
        chip.content.set_app_state(aid, AppLifeCycle.PERSONALIZED)
    return applet
