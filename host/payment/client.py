"""A typed client for chip 1's payment applications, one method per command.

Every command is built from its spec in :mod:`apdu_specs.commands` and every status
word checked at one place (:meth:`PaymentClient._send`): an unexpected one raises
:class:`~apdu_specs.sw.CardError` naming the command. Results the terminal must act
on are data, not exceptions: a wrong PIN (63Cx) or a blocked PIN (6983) is a
:class:`PinResult`, a failed issuer authentication is ``False``, a rejected script
command is a :class:`ScriptResult` with its status word.

The transport should complete 61xx/6Cxx exchanges (:class:`host.transport.t0.T0Transport`;
``host.connect.open_card`` wraps every transport that way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from apdu_specs.apdu import ResponseAPDU
from apdu_specs.caches import pure_cache
from apdu_specs.commands.iso7816 import GET_DATA, READ_RECORD, SELECT, VERIFY
from apdu_specs.commands.payment import EXTERNAL_AUTHENTICATE, GENERATE_AC, GET_PROCESSING_OPTIONS
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.errors import ProtocolError
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.afl import AFLEntry
from apdu_specs.payment.aids import PPSE_NAME, PSE_NAME
from apdu_specs.payment.iad import IssuerApplicationData
from apdu_specs.payment.pin_block import encode_pin_block
from apdu_specs.payment.script import IssuerScript
from apdu_specs.sw import SW, CardError, check, tries_left
from apdu_specs.tlv import find, parse_tlvs
from host.transport.base import Transport

from .card_data import ApplicationFCI, CardData, DirectoryEntry, ProcessingOptions, directory_entries
from .errors import CardDataError

__all__ = ["CardCounters", "CryptogramResponse", "PaymentClient", "PinResult", "ScriptResult"]


@dataclass(frozen=True)
class PinResult:
    verified: bool
    tries_left: int | None = None
    blocked: bool = False


@dataclass(frozen=True)
class CryptogramResponse:
    """GENERATE AC's answer: cryptogram type, ATC, the cryptogram and the raw 9F10."""

    kind: ACType
    atc: int
    cryptogram: bytes
    iad: bytes

    @property
    def issuer_application_data(self) -> IssuerApplicationData | None:
        """9F10 in dualcard's layout, or None for a card with another layout."""
        try:
            return IssuerApplicationData.decode(self.iad)
        except ProtocolError:
            return None

    @classmethod
    def parse(cls, data: bytes) -> CryptogramResponse:
        try:
            objs = parse_tlvs(data)
            if len(objs) == 1 and objs[0].tag == 0x80:  # format 1: CID ATC AC [IAD]
                body = objs[0].value
                if len(body) < 11:
                    raise CardDataError("GENERATE AC format 1 answer is too short")
                return cls(ACType.from_bits(body[0]), int.from_bytes(body[1:3], "big"),
                           body[3:11], body[11:])
            cid, atc, ac, iad = (find(objs, t) for t in (0x9F27, 0x9F36, 0x9F26, 0x9F10))
            if cid is None or atc is None or ac is None:
                raise CardDataError("GENERATE AC answer lacks 9F27, 9F36 or 9F26")
            return cls(ACType.from_bits(cid.value[0]), int.from_bytes(atc.value, "big"), ac.value,
                       iad.value if iad is not None else b"")
        except (ProtocolError, IndexError) as exc:
            raise CardDataError(f"GENERATE AC answer: {exc}") from None


@dataclass(frozen=True)
class CardCounters:
    atc: int | None
    last_online_atc: int | None
    pin_tries_left: int | None
    offline_limit: int | None
    credit_limit: int | None


@dataclass(frozen=True)
class ScriptResult:
    command: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW.OK


def _int(value: bytes | None) -> int | None:
    return None if value is None else int.from_bytes(value, "big")


@pure_cache(maxsize=64)
def _select_command(name: bytes) -> bytes:
    """SELECT by name: a pure function of the name, built once per name."""
    return SELECT.build({"selection": 4, "occurrence": 0, "data": {"name": name}}).encode()


@pure_cache(maxsize=256)
def _read_record_command(sfi: int, record: int) -> bytes:
    return READ_RECORD.build({"record": record, "reference": sfi << 3 | 4}).encode()


class PaymentClient:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.fci: ApplicationFCI | None = None

    def _send(self, spec: CommandSpec, fields: Mapping[str, Any] | None = None, *,
              expect: Iterable[int] = (SW.OK,)) -> ResponseAPDU:
        apdu = spec.build(dict(fields or {}))
        return self._exchange(apdu.encode(), spec.name, expect)

    def _exchange(self, command: bytes, name: str, expect: Iterable[int]) -> ResponseAPDU:
        resp = ResponseAPDU.parse(self.transport.transmit(command))
        check(resp.sw, command=name, expect=tuple(expect), data=resp.data)
        return resp

    # --- selection ----------------------------------------------------------------------
    def select(self, name: bytes, *, expect: Iterable[int] = (SW.OK,)) -> ResponseAPDU:
        if type(name) is bytes:  # the same few AIDs, sale after sale
            return self._exchange(_select_command(name), SELECT.name, expect)
        return self._send(SELECT, {"selection": 4, "occurrence": 0, "data": {"name": name}},
                          expect=expect)

    def list_applications(self) -> list[DirectoryEntry]:
        """The applications the PSE lists (the PPSE if there is no PSE), by priority."""
        try:
            fci = self.select(PSE_NAME).data
        except CardError as exc:
            if exc.sw != SW.FILE_NOT_FOUND:
                raise
            return self._ppse_applications()
        sfi_obj = find(parse_tlvs(fci), 0x88)
        if sfi_obj is None or not sfi_obj.value:
            raise CardDataError("the PSE's FCI names no directory SFI (88)")
        entries: list[DirectoryEntry] = []
        for record in range(1, 256):
            try:
                data = self.read_record(sfi_obj.value[0], record)
            except CardError as exc:
                if exc.sw == SW.RECORD_NOT_FOUND:
                    break
                raise
            entries += directory_entries(data, "PSE record")
        return sorted(entries, key=lambda e: e.priority)

    def _ppse_applications(self) -> list[DirectoryEntry]:
        fci = self.select(PPSE_NAME).data
        return sorted(directory_entries(fci, "PPSE FCI"), key=lambda e: e.priority)

    def select_application(self, aid: bytes) -> ApplicationFCI:
        resp = self.select(aid, expect=(SW.OK, SW.SELECTED_FILE_INVALIDATED))
        self.fci = ApplicationFCI.parse(resp.data, blocked=resp.sw == SW.SELECTED_FILE_INVALIDATED)
        return self.fci

    # --- reading ------------------------------------------------------------------------
    def get_processing_options(self, pdol_data: bytes = b"") -> ProcessingOptions:
        resp = self._send(GET_PROCESSING_OPTIONS, {"data": {"pdol_data": pdol_data}})
        return ProcessingOptions.parse(resp.data)

    def read_record(self, sfi: int, record: int) -> bytes:
        if type(sfi) is int and type(record) is int:
            return self._exchange(_read_record_command(sfi, record), READ_RECORD.name,
                                  (SW.OK,)).data
        return self._send(READ_RECORD, {"record": record, "reference": sfi << 3 | 4}).data

    def read_application_data(self, afl: Iterable[AFLEntry]) -> CardData:
        return CardData.from_records(self.read_record(e.sfi, n) for e in afl for n in e.records())

    def get_data(self, tag: int) -> bytes | None:
        """The value of a data object, or None when the card has none (6A88)."""
        resp = self._send(GET_DATA, {"tag_high": tag >> 8, "tag_low": tag & 0xFF},
                          expect=(SW.OK, SW.REFERENCED_DATA_NOT_FOUND))
        if resp.sw != SW.OK:
            return None
        obj = find(parse_tlvs(resp.data), tag)
        return obj.value if obj is not None else None

    def read_counters(self) -> CardCounters:
        return CardCounters(*(_int(self.get_data(t)) for t in (0x9F36, 0x9F13, 0x9F17, 0xDF10, 0xDF11)))

    # --- cardholder verification ----------------------------------------------------------
    def verify_pin(self, pin: str) -> PinResult:
        """Offline plaintext PIN; a wrong or blocked PIN is a result, not an exception."""
        resp = self._send(VERIFY, {"qualifier": 0x80, "data": {"pin_block": encode_pin_block(pin)}},
                          expect=(SW.OK, SW.AUTH_METHOD_BLOCKED, *range(0x63C0, 0x63D0)))
        return self._pin_result(resp.sw)

    def pin_status(self) -> PinResult:
        """VERIFY without data: tries left (or verified / blocked)."""
        resp = self._send(VERIFY, {"qualifier": 0x80},
                          expect=(SW.OK, SW.AUTH_METHOD_BLOCKED, *range(0x63C0, 0x63D0)))
        return self._pin_result(resp.sw)

    @staticmethod
    def _pin_result(sw: int) -> PinResult:
        if sw == SW.AUTH_METHOD_BLOCKED:
            return PinResult(False, 0, blocked=True)
        left = tries_left(sw)
        return PinResult(sw == SW.OK, left, blocked=left == 0)

    # --- cryptograms and issuer response ---------------------------------------------------
    def generate_ac(self, kind: ACType, cdol_data: bytes) -> CryptogramResponse:
        resp = self._send(GENERATE_AC, {"reference_control": kind.value,
                                        "data": {"cdol_data": cdol_data}})
        return CryptogramResponse.parse(resp.data)

    def external_authenticate(self, issuer_authentication_data: bytes) -> bool:
        """True if the card accepted the ARPC; False if it answered 6300."""
        resp = self._send(EXTERNAL_AUTHENTICATE,
                          {"data": {"issuer_authentication_data": issuer_authentication_data}},
                          expect=(SW.OK, SW.NVM_CHANGED))
        return resp.sw == SW.OK

    def send_script_command(self, command: bytes) -> ScriptResult:
        resp = ResponseAPDU.parse(self.transport.transmit(command))
        return ScriptResult(bytes(command), resp.sw)

    def apply_scripts(self, scripts: Iterable[IssuerScript], template: int) -> list[ScriptResult]:
        """Run the commands of every script of ``template`` (71 or 72) in order.

        A script stops at its first failing command (EMV Book 3 §10.10); the next
        script still runs.
        """
        results = []
        for script in scripts:
            if script.template != template:
                continue
            for command in script.commands:
                result = self.send_script_command(command)
                results.append(result)
                if not result.ok:
                    break
        return results
