"""A toy applet that keeps every DGI the security domain routes to it."""

from __future__ import annotations

from apdu_specs.sw import SW, SWError
from cardlib.applet import Applet
from cardlib.registry import LoadFile, register_load_file

PERSO_LOAD_FILE = bytes.fromhex("F0000000EE")
PERSO_MODULE = bytes.fromhex("F0000000EE01")
PERSO_AID = bytes.fromhex("F0000000EE0101")
REFUSED_DGI = 0x0BAD
#: once stored, the toy counts as personalised at the end of a STORE DATA sequence
COMPLETE_DGI = 0x0C0C


class PersoToy(Applet):
    title = "perso toy"

    def on_install(self, params: bytes) -> None:
        self.store.set("params", params)

    def personalize(self, dgi: int, data: bytes) -> None:
        if dgi == REFUSED_DGI:
            raise SWError(SW.WRONG_DATA, "this DGI is refused")
        self.store.set(f"dgi/{dgi:04X}", data)

    def end_personalization(self) -> None:
        if self.store.get(f"dgi/{COMPLETE_DGI:04X}") is not None:
            self.mark_personalized()

    def dgis(self) -> dict[int, bytes]:
        return {int(k.split("/")[1], 16): self.store.get(k) for k in self.store.keys()  # noqa: SIM118
                if k.startswith("dgi/")}


PERSO_LOAD = register_load_file(LoadFile(PERSO_LOAD_FILE, "perso toy", {PERSO_MODULE: PersoToy}))
