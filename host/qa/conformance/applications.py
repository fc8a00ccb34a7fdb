"""Which application answers which specs, and where to find it on a card.

A spec's ``application`` field names the application that implements it; this table
says which AIDs that application is known under, on which chips, and whether a
directory (the payment system environment) lists more. ``iso7816`` specs are not an
application: the card OS answers SELECT, GET RESPONSE and MANAGE CHANNEL, and the
other interindustry commands are tried on the applications found (see the runner).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from apdu_specs.commands.purse_data import PURSE_AID
from apdu_specs.hexutil import to_hex
from apdu_specs.payment.aids import CREDIT_AID, DEBIT_AID, PSE_NAME

__all__ = ["APPLICATIONS", "CARD_LEVEL_INS", "INTERINDUSTRY", "Application", "Target",
           "with_aids"]

INTERINDUSTRY = "iso7816"
#: interindustry commands the card OS answers itself, whatever application is selected
CARD_LEVEL_INS = frozenset({0xA4, 0xC0, 0x70})

#: GlobalPlatform's issuer security domain AID, and the older Open Platform one
ISD_AIDS = (bytes.fromhex("A000000151000000"), bytes.fromhex("A000000003000000"))


@dataclass(frozen=True)
class Application:
    name: str
    aids: tuple[bytes, ...]
    chips: tuple[int, ...] = (1, 2)
    #: DF name of a directory whose records list more AIDs of this application (EMV PSE)
    directory: bytes | None = None
    #: at most one instance per chip (a security domain): stop at the first AID found
    single: bool = False


@dataclass(frozen=True)
class Target:
    """Where a case runs: a chip, and the application selected first (None: none)."""

    chip: int
    aid: bytes | None
    application: str

    def __str__(self) -> str:
        return f"chip{self.chip}" + (f" {to_hex(self.aid)}" if self.aid else "")


APPLICATIONS: Mapping[str, Application] = {
    "gp": Application("gp", ISD_AIDS, single=True),
    "payment": Application("payment", (DEBIT_AID, CREDIT_AID), chips=(1,), directory=PSE_NAME),
    "purse": Application("purse", (PURSE_AID,), chips=(2,)),
}


def with_aids(extra: Mapping[str, tuple[bytes, ...]],
              base: Mapping[str, Application] = APPLICATIONS) -> dict[str, Application]:
    """The table with more AIDs (tried first) for some applications, e.g. from ``--aid``."""
    out = dict(base)
    for name, aids in extra.items():
        known = out.get(name, Application(name, ()))
        out[name] = Application(name, (*aids, *known.aids), known.chips, known.directory,
                                known.single)
    return out
