"""Find the applications of the table on each chip: SELECT known AIDs, read the PSE.

The payment system environment (EMV Book 1 §12.2) is an application whose FCI names
a directory file (tag 88, its SFI); the directory's records carry one ``61`` entry per
application, with its AID under ``4F``.
"""

from __future__ import annotations

from collections.abc import Mapping

from apdu_specs.apdu import CommandAPDU
from apdu_specs.errors import TLVError
from apdu_specs.tlv import find, find_all, parse_tlvs
from host.transport.base import Transport

from .applications import Application, Target

__all__ = ["directory_aids", "discover", "select"]

_MAX_RECORDS = 16


def select(transport: Transport, aid: bytes) -> tuple[int, bytes]:
    """SELECT by DF name, first occurrence; returns (SW, FCI)."""
    response = transport.transmit(CommandAPDU(0x00, 0xA4, 0x04, 0x00, aid, 256).encode())
    return int.from_bytes(response[-2:], "big"), response[:-2]


def directory_aids(transport: Transport, name: bytes) -> list[bytes]:
    """AIDs listed by the directory ``name`` (empty when it is missing or malformed)."""
    sw, fci = select(transport, name)
    if sw != 0x9000:
        return []
    try:
        sfi_object = find(parse_tlvs(fci), 0x88)
    except TLVError:
        return []
    if sfi_object is None or len(sfi_object.value) != 1:
        return []
    reference = (sfi_object.value[0] << 3) | 0x04
    aids: list[bytes] = []
    for record in range(1, _MAX_RECORDS + 1):
        response = transport.transmit(CommandAPDU(0x00, 0xB2, record, reference, ne=256).encode())
        if response[-2:] != b"\x90\x00":
            break
        try:
            aids += [o.value for o in find_all(parse_tlvs(response[:-2]), 0x4F)]
        except TLVError:
            break
    return aids


def discover(transports: Mapping[int, Transport],
             applications: Mapping[str, Application]) -> dict[str, list[Target]]:
    """Where each application of the table is, chip by chip (reset before each chip)."""
    found: dict[str, list[Target]] = {name: [] for name in applications}
    for chip, transport in sorted(transports.items()):
        transport.reset()
        for app in applications.values():
            if chip not in app.chips:
                continue
            listed = directory_aids(transport, app.directory) if app.directory else []
            for aid in dict.fromkeys([*listed, *app.aids]):
                if select(transport, aid)[0] == 0x9000:
                    found[app.name].append(Target(chip, aid, app.name))
                    if app.single:
                        break
    return found
