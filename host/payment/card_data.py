"""What a terminal learns from chip 1, parsed: directory entries, FCI, AIP/AFL, record data.

Parsing never trusts the card: a missing mandatory element or a malformed one is a
:class:`~host.payment.errors.CardDataError` naming it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from apdu_specs.errors import ProtocolError
from apdu_specs.magstripe.tracks import Track2
from apdu_specs.payment.afl import AFLEntry, decode_afl
from apdu_specs.payment.bcd import decode_numeric
from apdu_specs.tlv import TLV, find, find_all, parse_dol, parse_tlvs

from .errors import CardDataError

__all__ = ["AIP", "ApplicationFCI", "CardData", "DirectoryEntry", "ProcessingOptions"]

Dol = list[tuple[int, int]]


def _tlvs(data: bytes, what: str) -> list[TLV]:
    try:
        return parse_tlvs(data)
    except ProtocolError as exc:
        raise CardDataError(f"{what}: {exc}") from None


def _dol(value: bytes | None, what: str) -> Dol:
    if value is None:
        return []
    try:
        return parse_dol(value)
    except ProtocolError as exc:
        raise CardDataError(f"{what}: {exc}") from None


@dataclass(frozen=True)
class DirectoryEntry:
    aid: bytes
    label: str
    priority: int = 15

    @classmethod
    def from_template(cls, entry: TLV) -> DirectoryEntry:
        aid = find(entry.children, 0x4F)
        if aid is None:
            raise CardDataError("a directory entry (61) without an AID (4F)")
        label = find(entry.children, 0x50)
        priority = find(entry.children, 0x87)
        return cls(aid.value, label.value.decode("ascii", "replace") if label else "",
                   priority.value[0] & 0x0F if priority and priority.value else 15)


def directory_entries(data: bytes, what: str) -> list[DirectoryEntry]:
    return [DirectoryEntry.from_template(e) for e in find_all(_tlvs(data, what), 0x61)]


@dataclass(frozen=True)
class ApplicationFCI:
    """SELECT's answer for an application; ``blocked`` when the card said 6283."""

    aid: bytes
    label: str = ""
    priority: int = 15
    pdol: Dol = field(default_factory=list)
    languages: str = ""
    blocked: bool = False

    @classmethod
    def parse(cls, data: bytes, *, blocked: bool = False) -> ApplicationFCI:
        objs = _tlvs(data, "FCI")
        name = find(objs, 0x84)
        if name is None:
            raise CardDataError("FCI without a DF name (84)")
        label, priority = find(objs, 0x50), find(objs, 0x87)
        languages = find(objs, 0x5F2D)
        pdol = find(objs, 0x9F38)
        return cls(name.value, label.value.decode("ascii", "replace") if label else "",
                   priority.value[0] & 0x0F if priority and priority.value else 15,
                   _dol(pdol.value if pdol else None, "PDOL"),
                   languages.value.decode("ascii", "replace") if languages else "", blocked)


class AIP:
    """Application interchange profile byte 1 bits (EMV Book 3 Annex C1)."""

    SDA = 0x40
    DDA = 0x20
    CARDHOLDER_VERIFICATION = 0x10
    TERMINAL_RISK_MANAGEMENT = 0x08
    ISSUER_AUTHENTICATION = 0x04
    CDA = 0x01


@dataclass(frozen=True)
class ProcessingOptions:
    aip: bytes
    afl: list[AFLEntry]

    @property
    def issuer_authentication_supported(self) -> bool:
        return bool(self.aip[0] & AIP.ISSUER_AUTHENTICATION)

    @classmethod
    def parse(cls, data: bytes) -> ProcessingOptions:
        """Format 1 (``80``: AIP ‖ AFL) or format 2 (``77`` with 82 and 94)."""
        objs = _tlvs(data, "GET PROCESSING OPTIONS answer")
        if len(objs) != 1 or objs[0].tag not in (0x80, 0x77):
            raise CardDataError("GET PROCESSING OPTIONS answer is neither 80 nor 77")
        if objs[0].tag == 0x80:
            aip, afl = objs[0].value[:2], objs[0].value[2:]
        else:
            aip_obj, afl_obj = find(objs, 0x82), find(objs, 0x94)
            if aip_obj is None or afl_obj is None:
                raise CardDataError("template 77 without AIP (82) or AFL (94)")
            aip, afl = aip_obj.value, afl_obj.value
        if len(aip) != 2:
            raise CardDataError("the AIP has 2 bytes")
        try:
            return cls(aip, decode_afl(afl))
        except ProtocolError as exc:
            raise CardDataError(f"AFL: {exc}") from None


def _text(value: bytes | None) -> str:
    return value.decode("ascii", "replace") if value else ""


@dataclass(frozen=True)
class CardData:
    """The application's record data (everything READ RECORD returned, plus the parsed essentials)."""

    pan: str
    psn: str
    expiry: str  #: YYMMDD
    cardholder_name: str
    cdol1: Dol
    cdol2: Dol
    track2: Track2 | None = None
    effective: str = ""
    currency: int | None = None
    currency_exponent: int = 2
    cvm_list: bytes = b""
    objects: dict[int, bytes] = field(default_factory=dict)

    @property
    def masked_pan(self) -> str:
        return self.pan[:6] + "*" * (len(self.pan) - 10) + self.pan[-4:]

    def supports_offline_plaintext_pin(self) -> bool:
        """Does the CVM list name "plaintext PIN verified by the ICC" (code 01 or 03)?"""
        rules = self.cvm_list[8:]
        return any(rules[i] & 0x3F in (0x01, 0x03) for i in range(0, len(rules) - 1, 2))

    @classmethod
    def from_records(cls, records: Iterable[bytes]) -> CardData:
        objects: dict[int, bytes] = {}
        for raw in records:
            for template in _tlvs(raw, "record"):
                if template.tag != 0x70:
                    raise CardDataError(f"record template {template.tag:X} is not 70")
                for obj in template.children:
                    objects.setdefault(obj.tag, obj.value)
        for tag, what in ((0x5A, "PAN"), (0x5F24, "expiry"), (0x8C, "CDOL1"), (0x8D, "CDOL2")):
            if tag not in objects:
                raise CardDataError(f"the card's records lack the {what} ({tag:X})")
        try:
            currency = decode_numeric(objects[0x9F42]) if 0x9F42 in objects else None
            track2 = (Track2.from_track2_equivalent(objects[0x57], check_luhn=False)
                      if 0x57 in objects else None)
        except ProtocolError as exc:
            raise CardDataError(str(exc)) from None
        psn = objects.get(0x5F34, b"\x00")
        exponent = objects.get(0x9F44, b"\x02")
        return cls(
            pan=objects[0x5A].hex().upper().rstrip("F"), psn=psn.hex()[:2],
            expiry=objects[0x5F24].hex(), cardholder_name=_text(objects.get(0x5F20)).strip(),
            cdol1=_dol(objects[0x8C], "CDOL1"), cdol2=_dol(objects[0x8D], "CDOL2"),
            track2=track2, effective=objects.get(0x5F25, b"").hex(), currency=currency,
            currency_exponent=exponent[0] if exponent else 2,
            cvm_list=objects.get(0x8E, b""), objects=objects)
