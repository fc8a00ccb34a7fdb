"""Factory installation: put the payment directory and applications on a chip directly.

On a card in the field this is GlobalPlatform's job (INSTALL, then STORE DATA
routed to ``personalize``). This function does the same steps without a security
domain, for tests, demos and card images prepared at the "factory".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from apdu_specs.payment.aids import (
    APPLICATION_MODULE_AID,
    DIRECTORY_MODULE_AID,
    LOAD_FILE_AID,
    PPSE_NAME,
    PSE_NAME,
)
from cardlib.content import ChipContent

__all__ = ["install_payment", "module_for"]


def module_for(aid: bytes) -> bytes:
    """The module an application AID is instantiated from."""
    return DIRECTORY_MODULE_AID if bytes(aid) in (PSE_NAME, PPSE_NAME) else APPLICATION_MODULE_AID


def install_payment(content: ChipContent,
                    personalisation: Mapping[bytes, Iterable[tuple[int, bytes]]]) -> None:
    """Install each AID in ``personalisation`` (in order) and feed it its DGIs."""
    for aid, dgis in personalisation.items():
        content.install(LOAD_FILE_AID, module_for(aid), aid)
        applet = content.instance(aid)
        for dgi, data in dgis:
            applet.personalize(dgi, data)
