"""What the link's requests look like in the alliance's ISO 8583 dialect, both ways.

Every request names its sender and itself (the envelope): DE 41 the terminal, DE 42 its
merchant, DE 11 the STAN and DE 7 the transmission time (UTC). An answer echoes them.

Authorisation (0100, repeated as 0101; answered 0110):

- DE 2 the PAN, DE 23 the PAN sequence number, DE 3 the processing code (``002000`` a
  debit card's purchase, ``003000`` a credit card's), DE 4 / DE 49 the amount and currency
  as the terminal states them (clear copies: the issuer holds them to the covered ones),
  DE 62 the chip-2 card identity the holder presented;
- DE 55: ARQC (9F26), IAD (9F10), ATC (9F36), AIP (82) and every value of the CDOL1 data,
  each under its own tag (9F02, 9F03, 9F1A, 95, 5F2A, 9A, 9C, 9F37 for the alliance's
  CDOL1). The service rebuilds the CDOL1 data from these tags in the order of the issuer's
  own CDOL1, never in an order the terminal chooses;
- the answer: DE 39 the response code (``00``/``01``/``05`` are the ARC the card gets in
  tag 8A), DE 55 the issuer authentication data (91) and issuer scripts (71, 72).

Network management (0800; answered 0810): DE 70 ``001`` sign-on, ``002`` sign-off,
``301`` echo test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apdu_specs.errors import ProtocolError, RemoteError
from apdu_specs.payment.script import encode_scripts
from apdu_specs.tlv import TLV, encode_tlvs, parse_dol, parse_tlvs, split_dol_data
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse, Decision
from host.pos.link import PaymentMethod

from .errors import MessageFormatError, ServiceError
from .iso8583 import MTI, Message, NetworkCode, ResponseCode, required, response_mti

__all__ = [
    "AuthorisationCall",
    "Envelope",
    "UnsupportedRequestError",
    "answer",
    "authorisation_answer",
    "authorisation_call",
    "authorisation_request",
    "envelope_of",
    "network_code",
    "network_request",
    "parse_transmission_time",
    "transmission_time",
]

#: DE 3: purchase of goods and services (00), from the account the card pays with
PROCESSING_CODES = {PaymentMethod.DEBIT: "002000", PaymentMethod.CREDIT: "003000"}
_METHODS = {code: method for method, code in PROCESSING_CODES.items()}
#: DE 55 tags that are not CDOL1 values, with their lengths (None: 1..32 bytes)
_ICC_TAGS = {0x9F26: 8, 0x9F36: 2, 0x82: 2, 0x9F10: None}
_ECHOED = ("3", "4", "7", "11", "41", "42", "49", "70", "90")
_DECISIONS = {ResponseCode.APPROVED: Decision.APPROVE,
              ResponseCode.REFER_TO_ISSUER: Decision.REFERRAL,
              ResponseCode.DO_NOT_HONOUR: Decision.DECLINE}


class UnsupportedRequestError(ServiceError, RemoteError):
    """A well-formed request for something the alliance does not serve (answered 12)."""


@dataclass(frozen=True)
class Envelope:
    """Who sends a request and which one it is."""

    terminal_id: str  #: 12 upper-case hex digits
    merchant_id: str
    stan: int  #: 1..999999
    sent_at: dt.datetime  #: aware, whole seconds

    def fields(self) -> dict[str, str]:
        return {"7": transmission_time(self.sent_at), "11": f"{self.stan:06d}",
                "41": self.terminal_id, "42": self.merchant_id}


@dataclass(frozen=True)
class AuthorisationCall:
    """An authorisation request as the link's :meth:`authorise` takes it."""

    request: AuthorisationRequest
    card_id: str
    method: PaymentMethod


# -- DE 7 ------------------------------------------------------------------------------------


def transmission_time(when: dt.datetime) -> str:
    """DE 7: MMDDhhmmss in UTC."""
    return when.astimezone(dt.UTC).strftime("%m%d%H%M%S")


def parse_transmission_time(value: str, now: dt.datetime) -> dt.datetime:
    """DE 7 as an aware UTC time, in the year that puts it nearest to ``now``."""
    now = now.astimezone(dt.UTC)
    if len(value) != 10 or not value.isdigit():
        raise MessageFormatError(f"DE 7 {value!r} is not a date and time (MMDDhhmmss)")
    month, day, hour, minute, second = (int(value[i:i + 2]) for i in range(0, 10, 2))
    candidates = []
    for year in (now.year, now.year - 1, now.year + 1):
        try:
            candidates.append(dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC))
        except ValueError:
            continue  # not a date, or 29 February of a year without it
    if not candidates:
        raise MessageFormatError(f"DE 7 {value!r} is not a date and time (MMDDhhmmss)")
    return min(candidates, key=lambda c: abs(c - now))


def envelope_of(message: Message, now: dt.datetime) -> Envelope:
    """The envelope of a decoded request; :class:`MessageFormatError` if incomplete."""
    stan = int(required(message, "11"))
    if stan == 0:
        raise MessageFormatError("DE 11 (System trace audit number) must not be 000000")
    return Envelope(required(message, "41").upper(), required(message, "42"), stan,
                    parse_transmission_time(required(message, "7"), now))


# -- authorisation ---------------------------------------------------------------------------


def authorisation_request(request: AuthorisationRequest, *, card_id: str, method: PaymentMethod,
                          envelope: Envelope, cdol1: bytes) -> Message:
    """The 0100 of ``request``; ``cdol1`` (the alliance's CDOL1) cuts the CDOL1 data into
    its tags."""
    try:
        values = split_dol_data(parse_dol(cdol1), request.cdol1_data)
    except ProtocolError as exc:
        raise MessageFormatError(f"the CDOL1 data does not fit the CDOL1: {exc}") from None
    icc = [TLV(0x9F26, request.arqc), TLV(0x9F10, request.iad),
           TLV(0x9F36, request.atc.to_bytes(2, "big")), TLV(0x82, request.aip),
           *(TLV(tag, value) for tag, value in values.items())]
    return {"t": MTI.AUTHORISATION, "2": request.pan, "3": PROCESSING_CODES[method],
            "4": f"{request.amount:012d}", "23": request.psn.zfill(3),
            "49": f"{request.currency:03d}", "55": encode_tlvs(icc), "62": card_id,
            **envelope.fields()}


def authorisation_call(message: Message, cdol1: bytes) -> AuthorisationCall:
    """The request a 0100/0101 carries, with the CDOL1 data rebuilt by ``cdol1`` (the
    issuer's own). :class:`MessageFormatError` or :class:`UnsupportedRequestError`."""
    method = _METHODS.get(required(message, "3"))
    if method is None:
        raise UnsupportedRequestError(f"processing code {message['3']} is not served")
    psn = required(message, "23")
    if psn[0] != "0":
        raise MessageFormatError(f"DE 23 {psn!r} is not a PAN sequence number (0nn)")
    icc = _icc_objects(required(message, "55"))
    cdol1_data = b"".join(_icc_value(icc, tag, length) for tag, length in parse_dol(cdol1))
    fixed = {tag: _icc_value(icc, tag, length) for tag, length in _ICC_TAGS.items()}
    request = AuthorisationRequest(
        required(message, "2"), psn[1:], int.from_bytes(fixed[0x9F36], "big"), fixed[0x9F26],
        cdol1_data, fixed[0x82], fixed[0x9F10], int(required(message, "4")),
        int(required(message, "49")))
    return AuthorisationCall(request, required(message, "62"), method)


def _icc_objects(data: bytes) -> dict[int, bytes]:
    try:
        objects = parse_tlvs(bytes(data))
    except ProtocolError as exc:
        raise MessageFormatError(f"DE 55 is not BER-TLV: {exc}") from None
    values = {obj.tag: obj.value for obj in objects}
    if len(values) != len(objects):
        raise MessageFormatError("DE 55 carries a tag twice")
    return values


def _icc_value(icc: dict[int, bytes], tag: int, length: int | None) -> bytes:
    value = icc.get(tag)
    if value is None:
        raise MessageFormatError(f"DE 55 lacks tag {tag:X}")
    if (len(value) != length) if length is not None else not 1 <= len(value) <= 32:
        raise MessageFormatError(f"DE 55 tag {tag:X} has {len(value)} bytes")
    return value


def authorisation_answer(request: Message, response: AuthorisationResponse) -> Message:
    """The 0110 of the issuer's answer: DE 39 its ARC, DE 55 tag 91 and the scripts."""
    icc = TLV(0x91, response.issuer_authentication_data).encode() + encode_scripts(response.scripts)
    return {**answer(request, ResponseCode(response.arc.decode("ascii"))), "55": icc}


def decision_of(code: str) -> Decision | None:
    """The issuer's decision a response code reports (None: the request was refused)."""
    try:
        return _DECISIONS.get(ResponseCode(code))
    except ValueError:
        return None


# -- answers and network management -----------------------------------------------------------


def answer(request: Message, code: ResponseCode) -> Message:
    """An answer to ``request`` with response ``code``, echoing its envelope and amounts."""
    return {"t": response_mti(request["t"]), **{k: request[k] for k in _ECHOED if k in request},
            "39": code}


def network_request(code: NetworkCode, envelope: Envelope) -> Message:
    return {"t": MTI.NETWORK, "70": code, **envelope.fields()}


def network_code(message: Message) -> NetworkCode:
    value = required(message, "70")
    try:
        return NetworkCode(value)
    except ValueError:
        raise UnsupportedRequestError(f"network management code {value} is not served") from None
