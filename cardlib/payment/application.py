"""The debit and credit applications of chip 1 (one applet class, personalised apart).

A terminal runs: SELECT → GET PROCESSING OPTIONS → READ RECORD (per AFL) → VERIFY
→ GENERATE AC → [EXTERNAL AUTHENTICATE] → [issuer scripts 71] → second GENERATE AC
→ [issuer scripts 72]. GET DATA answers the counters and limits at any time. The
cryptogram steps live in :mod:`.transaction`, the script commands in :mod:`.scripts`,
the personalisation in :mod:`.perso`; this class only binds them to their commands.
"""

from __future__ import annotations

from typing import Any

from apdu_specs.commands.iso7816 import GET_DATA, READ_RECORD, VERIFY
from apdu_specs.commands.payment import (
    EXTERNAL_AUTHENTICATE,
    GENERATE_AC,
    GET_PROCESSING_OPTIONS,
)
from apdu_specs.payment import dgi as D
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.binding import BINDING_STATUS_TAG
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.pin_block import decode_pin_block, encode_pin_block
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import TLV
from cardlib.applet import APDUContext, Response, handles

from .binding import ReaderBinding
from .config import AppConfig, dol_length, risk_parameters
from .perso import missing_data, personalize_application
from .records import RecordFile, build_fci
from .scripts import IssuerScripts
from .state import PaymentState, Session, payment_pin, session_of
from .transaction import Transaction

__all__ = ["PaymentApplication"]

ATC_MAX = 0xFFFF
QUALIFIER_PLAINTEXT_PIN = 0x80


class PaymentApplication(IssuerScripts, ReaderBinding):
    title = "payment application (debit / credit)"

    def select(self, ctx: APDUContext) -> Response:
        self.ram.on_deselect["session"] = Session()
        fci = build_fci(self.aid, self.store.get("fci"))
        blocked = PaymentState(self.store).blocked
        return Response(fci, SW.SELECTED_FILE_INVALIDATED if blocked else SW.OK)

    def personalize(self, dgi: int, data: bytes) -> None:
        personalize_application(self.store, payment_pin(self.store, self.ram), dgi, data)

    def end_personalization(self) -> None:
        if not missing_data(self.store):
            self.mark_personalized()

    def _transaction(self) -> Transaction:
        return Transaction(AppConfig.load(self.store), PaymentState(self.store),
                           session_of(self.ram), payment_pin(self.store, self.ram))

    @handles(GET_PROCESSING_OPTIONS)
    def get_processing_options(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        cfg = AppConfig.load(self.store)
        self.require_reader()
        session = session_of(self.ram)
        if session.gpo_atc is not None:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "transaction already started: select again")
        pdol_data = fields["data"]["pdol_data"]
        if len(pdol_data) != dol_length(cfg.pdol):
            raise SWError(SW.WRONG_LENGTH, f"the PDOL asks for {dol_length(cfg.pdol)} bytes")
        state = PaymentState(self.store)
        if state.atc >= ATC_MAX:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "the transaction counter is exhausted")
        state.atc = state.atc + 1
        state.start_transaction_scripts()
        payment_pin(self.store, self.ram).reset_validation()
        session.gpo_atc, session.pdol_data = state.atc, bytes(pdol_data)
        return TLV(0x80, cfg.aip + cfg.afl).encode()

    @handles(READ_RECORD)
    def read_record(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        return RecordFile(self.store).read(fields["record"], fields["reference"])

    @handles(VERIFY)
    def verify(self, ctx: APDUContext, fields: dict[str, Any]) -> Response:
        if fields["qualifier"] != QUALIFIER_PLAINTEXT_PIN:
            raise SWError(SW.INCORRECT_P1P2, "only the plaintext offline PIN (P2 80) is supported")
        self.require_reader()
        session = session_of(self.ram)
        if session.gpo_atc is None:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "VERIFY comes after GET PROCESSING OPTIONS")
        pin = payment_pin(self.store, self.ram)
        if not pin.is_set:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, "no PIN personalised")
        block = fields.get("data", {}).get("pin_block", b"")
        if not block:
            if pin.blocked:
                raise SWError(SW.AUTH_METHOD_BLOCKED)
            return Response(b"", SW.OK if pin.validated else 0x63C0 | pin.tries_left)
        try:
            candidate = encode_pin_block(decode_pin_block(block))
        except PaymentFormatError as exc:
            raise SWError(SW.WRONG_DATA, str(exc)) from None
        session.pin_tried = True
        session.pin_failed = True
        sw = pin.check(candidate)
        session.pin_failed = sw != SW.OK
        return Response(b"", sw)

    @handles(GET_DATA)
    def get_data(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        tag = fields["tag_high"] << 8 | fields["tag_low"] if fields["tag_high"] else fields["tag_low"]
        value = self._data_object(tag)
        if value is None:
            raise SWError(SW.REFERENCED_DATA_NOT_FOUND, f"no data object {tag:X}")
        return TLV(tag, value).encode()

    def _data_object(self, tag: int) -> bytes | None:
        state = PaymentState(self.store)
        if tag == 0x9F36:
            return state.atc.to_bytes(2, "big")
        if tag == 0x9F13:
            return state.last_online_atc.to_bytes(2, "big")
        if tag == BINDING_STATUS_TAG:
            return self.binding_status(AppConfig.load(self.store).version.cvn)
        if tag == 0x9F17:
            pin = payment_pin(self.store, self.ram)
            return bytes([pin.tries_left]) if pin.is_set else None
        risk = risk_parameters(self.store)
        if risk is None:
            return None
        if tag == D.TAG_OFFLINE_LIMIT:
            return D.encode_limit(risk.offline_limit)
        if tag == D.TAG_CREDIT_LIMIT and risk.credit_limit is not None:
            return D.encode_limit(risk.credit_limit)
        if tag == D.TAG_LOWER_OFFLINE:
            return bytes([risk.lower_consecutive_offline])
        if tag == D.TAG_UPPER_OFFLINE:
            return bytes([risk.upper_consecutive_offline])
        return None

    @handles(GENERATE_AC)
    def generate_ac(self, ctx: APDUContext, fields: dict[str, Any]) -> bytes:
        self.require_reader()
        requested = ACType.from_bits(fields["reference_control"])
        return self._transaction().generate_ac(requested, fields["data"]["cdol_data"])

    @handles(EXTERNAL_AUTHENTICATE)
    def external_authenticate(self, ctx: APDUContext, fields: dict[str, Any]) -> Response:
        ok = self._transaction().authenticate_issuer(fields["data"]["issuer_authentication_data"])
        return Response(b"", SW.OK if ok else SW.NVM_CHANGED)
