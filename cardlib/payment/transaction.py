"""The cryptogram steps of one transaction: first and second GENERATE AC, issuer authentication.

Theory of operation
-------------------
GET PROCESSING OPTIONS commits ``ATC + 1`` and remembers it in the session; every
step here first checks that the stored ATC is still that value (a rolled-back GPO
leaves the session pointing at an ATC that was never committed, and is refused).

First GENERATE AC: cut the CDOL1 data into fields, take amount (9F02) and currency
(5F2A), snapshot the card history into the CVR, decide (:mod:`.risk`), compute the
cryptogram over ``CDOL1 data ‖ AIP ‖ ATC ‖ IAD`` and update the counters in the same
command transaction: the consecutive count always, "last online transaction not
completed" for an ARQC, the offline amount for a TC.

Issuer authentication (EXTERNAL AUTHENTICATE, or tag 91 in the CDOL2 data) is tried
once per transaction. A failure is recorded with an immediate write so a torn or
failing command can never erase it.

Second GENERATE AC (only after an ARQC): read ARC and 91 from the CDOL2 data,
authenticate the issuer if not done yet, apply the card status update of an
authenticated method-2 answer, decide, and compute the cryptogram over
``CDOL1 data ‖ CDOL2 data ‖ AIP ‖ ATC ‖ IAD``. An authenticated approval resets the
offline counters and sets the last online ATC.
"""

from __future__ import annotations

from apdu_specs.crypto.errors import CryptogramError
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.bcd import decode_numeric
from apdu_specs.payment.cvr import CVR, CardHistory
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.iad import IssuerApplicationData
from apdu_specs.payment.issuer_response import (
    ARC,
    ARPCMethod,
    IssuerAuthenticationData,
)
from apdu_specs.sw import SW, SWError
from apdu_specs.tlv import TLV, split_dol_data
from cardlib.pin import PIN

from .config import AppConfig, Dol, dol_length
from .risk import OfflineExposure, OnlineReasons, first_decision, second_decision
from .state import FirstAC, Flags, IssuerAuth, PaymentState, Session

__all__ = ["Transaction"]

TAG_AMOUNT = 0x9F02
TAG_CURRENCY = 0x5F2A
TAG_ARC = 0x8A
TAG_ISSUER_AUTH = 0x91


def _numeric(value: bytes | None) -> int | None:
    if not value:
        return None
    try:
        return decode_numeric(value)
    except PaymentFormatError:
        return None


def _fields(dol: Dol, data: bytes, what: str) -> dict[int, bytes]:
    if len(data) != dol_length(dol):
        raise SWError(SW.WRONG_LENGTH, f"{what} data is {len(data)} bytes, "
                                       f"the card asks for {dol_length(dol)}")
    return split_dol_data(dol, data)


class Transaction:
    """The card's side of one transaction, built per command from config, memory and RAM."""

    def __init__(self, cfg: AppConfig, state: PaymentState, session: Session, pin: PIN) -> None:
        self.cfg = cfg
        self.state = state
        self.session = session
        self.pin = pin
        if session.gpo_atc is None or state.atc != session.gpo_atc:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no GET PROCESSING OPTIONS in this selection")
        self.atc = session.gpo_atc

    # --- GENERATE AC ----------------------------------------------------------------
    def generate_ac(self, requested: ACType, data: bytes) -> bytes:
        first = self.session.first
        if first is None:
            return self._first(requested, data)
        if first.kind is ACType.ARQC and self.session.second is None:
            if requested is ACType.ARQC:
                raise SWError(SW.INCORRECT_P1P2, "a second GENERATE AC asks for TC or AAC")
            return self._second(first, requested, data)
        raise SWError(SW.CONDITIONS_NOT_SATISFIED, "this transaction has no GENERATE AC left")

    def _history(self) -> CardHistory:
        flags, state, risk = self.state.flags, self.state, self.cfg.risk
        scripts, script_failed = state.scripts("last")
        return CardHistory(
            last_online_incomplete=bool(flags & Flags.LAST_ONLINE_INCOMPLETE),
            pin_try_limit_exceeded=self.pin.blocked,
            velocity_exceeded=state.offline_count >= risk.lower_consecutive_offline,
            new_card=state.last_online_atc == 0,
            issuer_auth_failed_last=bool(flags & Flags.ISSUER_AUTH_FAILED_LAST),
            issuer_auth_not_performed_last=bool(flags & Flags.ISSUER_AUTH_NOT_PERFORMED_LAST),
            scripts_processed=scripts, script_failed=script_failed,
            application_blocked=self.state.blocked)

    def _exposure(self, amount: int | None, currency_matches: bool, count: int) -> OfflineExposure:
        risk = self.cfg.risk
        return OfflineExposure(amount, currency_matches, self.state.offline_amount,
                               risk.offline_limit, count, risk.upper_consecutive_offline,
                               risk.credit_limit)

    def _first(self, requested: ACType, data: bytes) -> bytes:
        values = _fields(self.cfg.cdol1, data, "CDOL1")
        amount = _numeric(values.get(TAG_AMOUNT))
        currency_matches = _numeric(values.get(TAG_CURRENCY)) == self.cfg.risk.currency
        history = self._history()
        exposure = self._exposure(amount, currency_matches, self.state.offline_count + 1)
        reasons = OnlineReasons(
            new_card=history.new_card, velocity_exceeded=history.velocity_exceeded,
            last_online_incomplete=history.last_online_incomplete,
            issuer_auth_failed_last=history.issuer_auth_failed_last,
            issuer_auth_not_performed_last=history.issuer_auth_not_performed_last,
            go_online_next=bool(self.state.flags & Flags.GO_ONLINE_NEXT),
            pin_try_limit_exceeded=history.pin_try_limit_exceeded,
            over_amount_limits=not exposure.within_amount_limits)
        kind = first_decision(requested, blocked=self.state.blocked, reasons=reasons)
        cvr = CVR(first_ac=kind, pin_verified=self.session.pin_tried,
                  pin_failed=self.session.pin_failed, history=history)
        cryptogram, response = self._cryptogram(kind, cvr, data)
        self.state.offline_count = self.state.offline_count + 1
        if kind is ACType.ARQC:
            self.state.set_flags(add=Flags.LAST_ONLINE_INCOMPLETE)
        elif kind is ACType.TC and amount:
            self.state.offline_amount = self.state.offline_amount + amount
        self.session.first = FirstAC(kind, bytes(data), cryptogram, history, amount,
                                     currency_matches)
        return response

    def _second(self, first: FirstAC, requested: ACType, data: bytes) -> bytes:
        values = _fields(self.cfg.cdol2, data, "CDOL2")
        arc = values.get(TAG_ARC, b"")
        unable = ARC.unable_to_go_online(arc)
        raw91 = values.get(TAG_ISSUER_AUTH, b"")
        if self.session.issuer_auth is None and not unable and any(raw91):
            self.authenticate_issuer(raw91, strict=False)
        auth = self.session.issuer_auth
        approved = auth is IssuerAuth.OK and self._issuer_approves()
        if auth is IssuerAuth.OK:
            self._apply_card_status_update()
        exposure = self._exposure(first.amount, first.currency_matches, self.state.offline_count)
        kind = second_decision(requested, blocked=self.state.blocked, unable_to_go_online=unable,
                               issuer_authenticated=auth is IssuerAuth.OK,
                               issuer_approved=approved, exposure=exposure)
        cvr = CVR(first_ac=ACType.ARQC, pin_verified=self.session.pin_tried,
                  pin_failed=self.session.pin_failed, history=first.history).with_second(
            kind, issuer_auth_failed=auth is IssuerAuth.FAILED, unable_to_go_online=unable)
        _, response = self._cryptogram(kind, cvr, first.cdol1_data, bytes(data))
        self._record_outcome(first, kind, auth, approved, unable)
        self.session.second = kind
        return response

    def _record_outcome(self, first: FirstAC, kind: ACType, auth: IssuerAuth | None,
                        approved: bool, unable: bool) -> None:
        add, remove = Flags(0), Flags.LAST_ONLINE_INCOMPLETE
        if auth is IssuerAuth.OK:
            remove |= Flags.ISSUER_AUTH_FAILED_LAST | Flags.ISSUER_AUTH_NOT_PERFORMED_LAST
        elif auth is None and not unable:
            add |= Flags.ISSUER_AUTH_NOT_PERFORMED_LAST
        if approved:
            self.state.last_online_atc = self.atc
            self.state.offline_count = 0
            self.state.offline_amount = 0
            data = self.session.issuer_data
            if not (data is not None and data.csu is not None and data.csu.go_online_next):
                remove |= Flags.GO_ONLINE_NEXT
        elif unable and kind is ACType.TC and first.amount:
            self.state.offline_amount = self.state.offline_amount + first.amount
        self.state.set_flags(add=add, remove=remove)

    def _cryptogram(self, kind: ACType, cvr: CVR, cdol1_data: bytes,
                    cdol2_data: bytes = b"") -> tuple[bytes, bytes]:
        cfg = self.cfg
        iad = IssuerApplicationData(cfg.crypto.dki, cfg.crypto.cvn, cvr).encode()
        version = cfg.version
        sk = version.ac_session_key(cfg.keys.ac, self.atc)
        ac = version.application_cryptogram(
            sk, version.ac_input(cdol1_data, cfg.aip, self.atc, iad, cdol2_data))
        response = TLV.build(0x77, [
            TLV(0x9F27, bytes([kind.value])), TLV(0x9F36, self.atc.to_bytes(2, "big")),
            TLV(0x9F26, ac), TLV(0x9F10, iad)]).encode()
        return ac, response

    # --- issuer authentication --------------------------------------------------------
    def authenticate_issuer(self, raw: bytes, *, strict: bool = True) -> bool:
        """Check the ARPC once; ``strict`` raises 6700 for data of the wrong shape."""
        first = self.session.first
        if (first is None or first.kind is not ACType.ARQC or self.session.second is not None
                or self.session.issuer_auth is not None):
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "no ARQC awaiting issuer authentication")
        method = self.cfg.crypto.arpc_method
        try:
            data = IssuerAuthenticationData.decode(raw, method)
        except PaymentFormatError as exc:
            if strict:
                raise SWError(SW.WRONG_LENGTH, str(exc)) from None
            data = None
        version = self.cfg.version
        sk = version.ac_session_key(self.cfg.keys.ac, self.atc)
        try:
            if data is None:
                raise CryptogramError("malformed issuer authentication data")
            version.verify_issuer_authentication(sk, first.cryptogram, data)
        except CryptogramError:
            self.session.issuer_auth = IssuerAuth.FAILED
            self.state.set_flag_now(Flags.ISSUER_AUTH_FAILED_LAST)
            return False
        self.session.issuer_auth = IssuerAuth.OK
        self.session.issuer_data = data
        return True

    def _issuer_approves(self) -> bool:
        data = self.session.issuer_data
        if data is None:
            return False
        if data.method is ARPCMethod.METHOD_1:
            return ARC.approves(data.arc)
        return data.csu is not None and data.csu.approved

    def _apply_card_status_update(self) -> None:
        data = self.session.issuer_data
        csu = data.csu if data is not None else None
        if csu is None:
            return
        add = Flags(0)
        if csu.block_application:
            add |= Flags.BLOCKED
        if csu.go_online_next:
            add |= Flags.GO_ONLINE_NEXT
        if add:
            self.state.set_flags(add=add)
        if csu.reset_offline_counters:
            self.state.offline_count = 0
            self.state.offline_amount = 0
        if csu.update_pin_try_counter and self.pin.is_set:
            self.pin.unblock()
