"""GET STATUS: which registry entries a subset names, and paging them out (GPC 2.3 §11.4).

P1 picks the subset: 80 the ISD (its state is the card's life cycle state), 40
applications and security domains, 20 executable load files, 10 load files with their
modules. Load files are the ones registered with :mod:`cardlib.registry` (on a real
card they would be in ROM or loaded with LOAD), each reported LOADED (01).

The search criteria ``4F <AID prefix>`` filter by AID (``4F 00`` matches all).
Answers are cut between entries: when the next entry would not fit the profile's page
size the card answers ``6310`` and keeps the rest for GET STATUS with P2 b1 set
("next occurrence").
"""

from __future__ import annotations

from apdu_specs.caches import pure_cache
from apdu_specs.commands.gp_extra import RegistryEntry
from apdu_specs.errors import TLVError
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import find, parse_tlvs
from cardlib.content import AppRecord, ChipContent
from cardlib.registry import all_load_files

__all__ = ["LOADED", "aid_filter", "encode_entries", "paginate", "registry_entries"]

LOADED = 0x01


@pure_cache(maxsize=64)
def aid_filter(criteria: bytes) -> bytes:
    """The AID prefix of the search criteria; 6A80 unless they hold a 4F object.

    A pure function of the criteria, which are the same in most GET STATUS commands.
    """
    try:
        objs = parse_tlvs(criteria)
    except TLVError as exc:
        raise SWError(SW.WRONG_DATA, f"search criteria: {exc}") from None
    aid = find(objs, 0x4F)
    if aid is None:
        raise SWError(SW.WRONG_DATA, "search criteria need a 4F (AID) object")
    return aid.value


def registry_entries(subset: int, content: ChipContent, isd_aid: bytes) -> list[RegistryEntry]:
    """The entries of one P1 subset, in registry order."""
    if subset == 0x80:
        rec = content.record(isd_aid)
        privileges = rec.privileges if rec is not None else b""
        return [RegistryEntry(isd_aid, content.card_state, privileges)]
    if subset == 0x40:
        return [_application_entry(r, isd_aid) for r in content.records() if r.aid != isd_aid]
    with_modules = subset == 0x10
    out = []
    for lf in all_load_files():
        version = bytes(int(p) & 0xFF for p in lf.version.split(".")[:2] if p.isdigit())
        modules = tuple(sorted(lf.modules)) if with_modules else ()
        out.append(RegistryEntry(lf.aid, LOADED, b"", b"", isd_aid, version, modules))
    return out


@pure_cache(maxsize=1024)
def _application_entry(rec: AppRecord, isd_aid: bytes) -> RegistryEntry:
    """An application's entry: a pure function of its (frozen, shared) record."""
    return RegistryEntry(rec.aid, rec.state, rec.privileges, rec.load_file_aid, isd_aid)


def encode_entries(entries: list[RegistryEntry], tlv_format: bool, subset: int) -> list[bytes]:
    if tlv_format:
        return [e.to_tlv() for e in entries]
    return [e.to_legacy(with_modules=subset == 0x10) for e in entries]


def paginate(chunks: list[bytes], limit: int) -> tuple[bytes, list[bytes]]:
    """As many whole chunks as fit ``limit`` (at least one), and the rest."""
    page = bytearray()
    for i, chunk in enumerate(chunks):
        if page and len(page) + len(chunk) > limit:
            return bytes(page), chunks[i:]
        page += chunk
    return bytes(page), []
