"""The stamp card applet: what runs on the chip.

All state is in ``self.store`` (the chip's persistent memory), never in attributes:
a card image, a snapshot or a tear restores it exactly. A handler that returns
commits its writes; one that raises ``SWError`` leaves the card as it was.

Invariant, whatever power loss happens: ``total == stamps + 10 * redeemed``.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.sw import SW, SWError
from cardlib.applet import APDUContext, Applet, handles
from cardlib.registry import LoadFile, register_load_file

from .specs import LOAD_FILE_AID, MODULE_AID, READ, REDEEM, STAMP, STAMPS_PER_REWARD

__all__ = ["LOAD_FILE", "StampCard"]


class StampCard(Applet):
    title = "stamp card"

    @handles(STAMP)
    def stamp(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        stamps = self.store.get("stamps", 0)
        if stamps >= STAMPS_PER_REWARD:
            raise SWError(SW.NOT_ENOUGH_MEMORY, "the card is full: redeem first")
        self.store.set("stamps", stamps + 1)
        self.store.set("total", self.store.get("total", 0) + 1)
        self.store.set("last_merchant", fields["data"]["merchant"])
        return STAMP.build_response({"stamps": stamps + 1})

    @handles(READ)
    def read(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        return READ.build_response({"stamps": self.store.get("stamps", 0),
                                    "redeemed": self.store.get("redeemed", 0)})

    @handles(REDEEM)
    def redeem(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        if self.store.get("stamps", 0) < STAMPS_PER_REWARD:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "not enough stamps yet")
        redeemed = self.store.get("redeemed", 0) + 1
        self.store.set("stamps", 0)
        self.store.set("redeemed", redeemed)
        return REDEEM.build_response({"redeemed": redeemed})


#: what INSTALL instantiates; registered on import (and found through the entry point)
LOAD_FILE = register_load_file(LoadFile(LOAD_FILE_AID, "stamp card", {MODULE_AID: StampCard}))
