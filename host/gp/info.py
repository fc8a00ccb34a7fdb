"""Everything `dualcard card info` shows about one chip, gathered through its ISD.

Public data objects (CPLC, card recognition data, IIN, CIN, key information) need no
keys. The card's life cycle state and its applications come from GET STATUS, which
needs an open secure channel, so they are absent when no keys are given. A card that
refuses SELECT with 6985 is taken to be TERMINATED (GPC 2.3 §5.1.1.5: it then answers
GET DATA only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apdu_specs.commands.gp_extra import (
    CardRecognition,
    KeyInfo,
    RegistryEntry,
    app_state_name,
    card_state_name,
)
from apdu_specs.sw import CardError

from .client import GPClient, Subset
from .keyspec import KeySpec
from .secure_channel import ChannelOptions

__all__ = ["CardInfo", "read_card_info"]

_TERMINATED = 0xFF


@dataclass
class CardInfo:
    atr: bytes
    isd_aid: bytes
    card_state: int | None = None
    cplc: dict[str, bytes] | None = None
    iin: bytes | None = None
    cin: bytes | None = None
    recognition: CardRecognition | None = None
    key_sets: list[KeyInfo] = field(default_factory=list)
    applications: list[RegistryEntry] | None = None
    load_files: list[RegistryEntry] | None = None
    #: the key spec and KCVs of the card keys the secure channel was opened with
    authenticated_with: str | None = None

    def to_json(self) -> dict[str, Any]:
        def entry(e: RegistryEntry) -> dict[str, Any]:
            return {"aid": e.aid.hex().upper(), "state": app_state_name(e.state),
                    "privileges": e.privileges.hex().upper(),
                    "load_file": e.load_file_aid.hex().upper(),
                    "modules": [m.hex().upper() for m in e.modules]}

        rec = self.recognition
        return {
            "atr": self.atr.hex().upper(),
            "isd": self.isd_aid.hex().upper(),
            "life_cycle": None if self.card_state is None else card_state_name(self.card_state),
            "cplc": None if self.cplc is None else {k: v.hex().upper()
                                                    for k, v in self.cplc.items()},
            "iin": None if self.iin is None else self.iin.hex().upper(),
            "cin": None if self.cin is None else self.cin.hex().upper(),
            "gp_version": rec.gp_version if rec else None,
            "scp": None if rec is None or rec.scp is None else f"{rec.scp:02X}",
            "i": None if rec is None or rec.i_parameter is None else f"{rec.i_parameter:02X}",
            "keys": [{"kvn": f"{k.kvn:02X}", "id": k.key_id, "type": f"{k.key_type:02X}",
                      "length": k.length} for k in self.key_sets],
            "applications": None if self.applications is None
            else [entry(e) for e in self.applications],
            "load_files": None if self.load_files is None else [entry(e) for e in self.load_files],
            "authenticated_with": self.authenticated_with,
        }


def read_card_info(client: GPClient, *, keys: KeySpec | None = None,
                   options: ChannelOptions | None = None) -> CardInfo:
    """Read the public data objects and, with ``keys``, the registry."""
    info = CardInfo(client.transport.atr, client.isd_aid)
    try:
        client.select()
    except CardError as exc:
        if exc.sw != 0x6985:
            raise
        info.card_state = _TERMINATED
        keys = None
    info.cplc = client.cplc()
    info.recognition = client.card_recognition()
    info.iin = client.get_data(0x42)
    info.cin = client.get_data(0x45)
    info.key_sets = client.key_information()
    if keys is None:
        return info
    channel = client.open_secure_channel(keys, options)
    enc, mac, dek = (k.hex().upper() for k in channel.static.kcvs())
    info.authenticated_with = (f"{keys.text}, key set {channel.kvn:02X} "
                               f"(KCV enc={enc} mac={mac} dek={dek})")
    isd = client.get_status(Subset.ISD)
    info.card_state = isd[0].state if isd else None
    info.applications = client.get_status(Subset.APPLICATIONS)
    info.load_files = client.get_status(Subset.LOAD_FILES_AND_MODULES)
    return info
