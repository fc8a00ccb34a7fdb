"""The alliance's ISO 8583 dialect: its fields as data, the codec and the framing.

One table (:data:`FIELDS`) says what every data element (DE) is: its kind (``n`` digits,
``ans`` printable text, ``b`` binary), its length and its length prefix. The pyiso8583
specification (:data:`SPEC`), the checks on decoded values and the rendering in the docs
all come from it. The dialect is ISO 8583:1987 with ASCII numerics, a binary bitmap and
binary ICC data and MAC (pyiso8583's ``default`` layout), no header, and two deviations
where the alliance's ids are longer than the standard's fields: DE 41 holds the 6-byte
PBOC terminal number as 12 hex digits and DE 42 the merchant's member id (LLVAR, up to
64 characters).

On the wire every message is preceded by its length, two bytes big-endian
(:func:`frame`, :func:`frame_length`); a length of zero or above :data:`MAX_MESSAGE` cannot
be a message of this dialect and raises :class:`~host.service.errors.ISOFramingError`.

The module imports no back office: the terminal's network link encodes with it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import iso8583

from apdu_specs.errors import ProtocolError
from apdu_specs.tags import tag_name
from apdu_specs.tlv import TLV, parse_tlvs

from .errors import ISOFramingError, MessageFormatError

__all__ = [
    "FIELDS",
    "MAX_MESSAGE",
    "MTI",
    "SPEC",
    "Field",
    "Message",
    "NetworkCode",
    "ResponseCode",
    "decode",
    "encode",
    "frame",
    "frame_length",
    "is_request_mti",
    "render",
    "required",
    "response_mti",
]

#: a decoded message: ``"t"`` the MTI, ``"2"``..``"128"`` the fields as pyiso8583 names
#: them; text fields are ``str``, binary ones ``bytes`` (pyiso8583's hex strings converted)
Message = dict[str, Any]

#: the longest message the alliance sends (a full DE 55 with scripts fits many times over)
MAX_MESSAGE = 4096
LENGTH_PREFIX = 2


@dataclass(frozen=True)
class Field:
    """One data element: ``key`` as pyiso8583 names it ("t", "p", "1", "2".."128")."""

    key: str
    name: str
    kind: str  #: "n" decimal digits, "ans" printable ASCII, "b" binary
    length: int  #: the fixed length, or the maximum of a variable one (bytes or characters)
    prefix: int = 0  #: digits of the ASCII length prefix: 0 fixed, 2 LLVAR, 3 LLLVAR

    @property
    def label(self) -> str:
        return {"t": "MTI", "p": "bitmap", "1": "bitmap 2"}.get(self.key, f"DE {self.key}")

    @property
    def notation(self) -> str:
        """ISO 8583 notation: ``n 6``, ``ans ..64 LLVAR``, ``b ..999 LLLVAR`` (bytes)."""
        if self.prefix == 0:
            return f"{self.kind} {self.length}"
        return f"{self.kind} ..{self.length} {'L' * self.prefix}VAR"

    def spec(self) -> dict[str, Any]:
        """This field as pyiso8583 describes a field."""
        return {"data_enc": "b" if self.kind == "b" else "ascii", "len_enc": "ascii",
                "len_type": self.prefix, "max_len": self.length, "desc": self.name}


FIELDS: tuple[Field, ...] = (
    Field("t", "Message type indicator", "n", 4),
    Field("p", "Primary bitmap", "b", 8),
    Field("1", "Secondary bitmap", "b", 8),
    Field("2", "Primary account number (chip 1 application)", "n", 19, 2),
    Field("3", "Processing code", "n", 6),
    Field("4", "Amount, transaction (minor units)", "n", 12),
    Field("7", "Transmission date and time (MMDDhhmmss, UTC)", "n", 10),
    Field("11", "System trace audit number", "n", 6),
    Field("23", "Card sequence number (PAN sequence number)", "n", 3),
    Field("39", "Response code", "ans", 2),
    Field("41", "Card acceptor terminal id (PBOC terminal number)", "ans", 12),
    Field("42", "Card acceptor id (the merchant's member id)", "ans", 64, 2),
    Field("44", "Additional response data (holder check results)", "ans", 25, 2),
    Field("49", "Currency code, transaction (ISO 4217 numeric)", "n", 3),
    Field("52", "PIN data (ISO 9564-1 format 0, terminal's ZPK)", "b", 8),
    Field("55", "ICC data (EMV BER-TLV)", "b", 999, 3),
    Field("62", "Alliance card identity (chip 2)", "ans", 64, 2),
    Field("63", "Issuer script ids, or their outcomes", "ans", 999, 3),
    Field("64", "Message authentication code", "b", 8),
    Field("70", "Network management information code", "n", 3),
    Field("90", "Original data elements (MTI, STAN, DE 7, zeros)", "n", 42),
    Field("123", "Address verification data (postcode, street)", "ans", 255, 3),
    Field("128", "Message authentication code", "b", 8),
)
_BY_KEY = {f.key: f for f in FIELDS}

#: the pyiso8583 specification, built from :data:`FIELDS` (no header)
SPEC: dict[str, dict[str, Any]] = {
    "h": {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 0, "desc": "Header"},
    **{f.key: f.spec() for f in FIELDS},
}


class MTI(StrEnum):
    """The message types the alliance serves."""

    AUTHORISATION = "0100"
    AUTHORISATION_REPEAT = "0101"  #: the same request again (same STAN and DE 7)
    AUTHORISATION_ANSWER = "0110"
    ADVICE = "0220"  #: an advice: a sale approved offline, or the outcome of issuer scripts
    ADVICE_REPEAT = "0221"
    ADVICE_ANSWER = "0230"
    REVERSAL = "0400"  #: undo an authorisation (its DE 90 names it)
    REVERSAL_REPEAT = "0401"
    REVERSAL_ANSWER = "0410"
    NETWORK = "0800"
    NETWORK_ANSWER = "0810"


class NetworkCode(StrEnum):
    """DE 70 of a network management message."""

    SIGN_ON = "001"
    SIGN_OFF = "002"
    ECHO = "301"


class ResponseCode(StrEnum):
    """DE 39. The first three are also the card's authorisation response code (tag 8A)."""

    APPROVED = "00"
    REFER_TO_ISSUER = "01"
    INVALID_MERCHANT = "03"  #: DE 42 is not the merchant the terminal is registered to
    DO_NOT_HONOUR = "05"
    INVALID_TRANSACTION = "12"  #: a processing code or network code the alliance does not serve
    INVALID_AMOUNT = "13"  #: DE 4 / DE 49 differ from what the cryptogram covers
    INVALID_CARD = "14"  #: a holder check for a card (or PAN) the issuer does not know
    FORMAT_ERROR = "30"
    INSUFFICIENT_FUNDS = "51"  #: the amount is above what the credit line has available
    INCORRECT_PIN = "55"
    TERMINAL_NOT_PERMITTED = "58"  #: unknown terminal, or not the one this connection serves
    EXCEEDS_LIMIT = "61"  #: the amount is above the credit line itself
    SECURITY_VIOLATION = "63"  #: the MAC does not verify
    PIN_TRIES_EXCEEDED = "75"  #: the card's online PIN is blocked (too many wrong PINs)
    PIN_CRYPTOGRAPHIC_ERROR = "81"  #: the PIN block does not decode under the terminal's ZPK
    CANNOT_VERIFY_PIN = "86"  #: no PVV on file for the card, or no ZPK for the terminal
    TOO_LATE = "68"  #: an authorisation that arrives after its reversal
    CRYPTOGRAPHIC_FAILURE = "88"  #: the ARQC does not verify
    DUPLICATE = "94"  #: STAN seen, DE 7 out of the window, or the ARQC answered before
    SYSTEM_MALFUNCTION = "96"


def is_request_mti(mti: bytes | str) -> bool:
    """ISO 8583:1987 request, advice or notification (function digit 0, 2 or 4)."""
    text = mti.decode("ascii", "replace") if isinstance(mti, bytes) else mti
    return len(text) == 4 and text.isdigit() and text[0] == "0" and text[2] in "024"


def response_mti(mti: str) -> str:
    """The answer's MTI: function digit plus one, origin back to 0 (``0101`` → ``0110``)."""
    return f"{mti[:2]}{int(mti[2]) + 1}0"


def encode(message: Mapping[str, Any]) -> bytes:
    """The message's bytes (without the length prefix); bitmaps are computed. A message of
    the primary bitmap's fields, each of its kind and length, is laid out directly
    (:func:`_encode_plain`); any other goes through pyiso8583, which finds what is wrong."""
    raw = _encode_plain(message)
    return raw if raw is not None else _encode_pyiso(message)


def _encode_pyiso(message: Mapping[str, Any]) -> bytes:
    doc = {}
    for key, value in message.items():
        if key in ("p", "1"):
            continue
        doc[key] = _codec(key)[0](value)
    try:
        raw, _ = iso8583.encode(doc, SPEC)
    except iso8583.EncodeError as exc:
        raise MessageFormatError(str(exc)) from None
    return bytes(raw)


def decode(raw: bytes) -> Message:
    """The fields of ``raw``; :class:`MessageFormatError` names what does not fit. A
    message that :func:`_decode_plain` reads in full is its answer; any other goes through
    pyiso8583, which names what is wrong."""
    plain = _decode_plain(raw)
    return plain if plain is not None else _decode_pyiso(raw)


def _decode_pyiso(raw: bytes) -> Message:
    try:
        decoded, _ = iso8583.decode(raw, SPEC)
    except iso8583.DecodeError as exc:
        raise MessageFormatError(str(exc)) from None
    except KeyError as exc:  # pyiso8583 looks a bitmap's field up in the spec unguarded
        raise MessageFormatError(f"the bitmap names DE {exc.args[0]}, which is not in the "
                                 "alliance's dialect") from None
    return {key: _codec(key)[1](value) for key, value in decoded.items()}


#: a field's value to pyiso8583's (checked) and back (checked): see :func:`_field_codec`
_Convert = Callable[[Any], Any]


def _codec(key: str) -> tuple[_Convert, _Convert]:
    try:
        return _CODECS[key]
    except KeyError:
        raise MessageFormatError(f"field {key!r} is not in the alliance's dialect") from None


def _field_codec(spec: Field) -> tuple[_Convert, _Convert]:
    """The checks of one field's values, made once from its :class:`Field` (they run for
    every field of every message): to the wire (binary values as pyiso8583's hex text) and
    from it. A value of the wrong kind raises :class:`MessageFormatError` naming the field,
    never the value (it is logged)."""
    if spec.kind == "b":
        wrong = f"{spec.label} ({spec.name}) must be bytes"

        def to_wire(value: Any) -> Any:
            if not isinstance(value, bytes | bytearray):
                raise MessageFormatError(wrong)
            return bytes(value).hex()
        return to_wire, bytes.fromhex  # pyiso8583 gives binary fields as hex text
    digits = spec.kind == "n"
    wrong = f"{spec.label} ({spec.name}) must be " + (
        "decimal digits" if digits else "printable ASCII")

    def checked(value: Any) -> Any:
        if not (isinstance(value, str) and value.isascii()
                and (value.isdigit() if digits else value.isprintable())):
            raise MessageFormatError(wrong)
        return value
    return checked, checked


_CODECS = {f.key: _field_codec(f) for f in FIELDS}

#: the primary bitmap's data elements, by number, from :data:`FIELDS`: what the direct
#: layout reads and writes (authorisations and their answers: the hot path)
_PLAIN = {int(f.key): f for f in FIELDS if f.key.isdigit() and 2 <= int(f.key) <= 64}
_PLAIN_BITS = sum(1 << (64 - n) for n in _PLAIN)
_PLAIN_KEYS = {f.key: n for n, f in _PLAIN.items()}


def _decode_plain(raw: bytes) -> Message | None:
    """``raw`` read by :data:`FIELDS` directly, as pyiso8583 reads it (pyiso8583 takes
    ~30 µs a message): None for anything but a well-formed message of the primary
    bitmap's fields, for pyiso8583 to name what is wrong. Values pass the same checks."""
    mti, bitmap = raw[:4], int.from_bytes(raw[4:12], "big")
    if len(raw) < 12 or not (mti.isdigit() and mti.isascii()) or bitmap & ~_PLAIN_BITS:
        return None
    message: Message = {"t": mti.decode("ascii"), "p": bytes(raw[4:12])}
    at = 12
    for number, spec in _PLAIN.items():
        if not bitmap >> (64 - number) & 1:
            continue
        size = spec.length
        if spec.prefix:
            digits = raw[at : at + spec.prefix]
            if len(digits) < spec.prefix or not (digits.isdigit() and digits.isascii()):
                return None
            at, size = at + spec.prefix, int(digits)
            if size > spec.length:
                return None
        data = raw[at : at + size]
        if len(data) < size or (spec.kind != "b" and not data.isascii()):
            return None
        at += size
        message[spec.key] = bytes(data) if spec.kind == "b" else data.decode("ascii")
    if at != len(raw):
        return None
    try:
        return {key: _CODECS[key][1](value) if type(value) is str else value
                for key, value in message.items()}
    except MessageFormatError:
        return None  # pyiso8583's path names the field, in its order


def _encode_plain(message: Mapping[str, Any]) -> bytes | None:
    """``message`` laid out by :data:`FIELDS` directly, as pyiso8583 lays it out: None
    unless it is the MTI and primary-bitmap fields only, each of its length and kind,
    for pyiso8583 to name what is wrong."""
    numbers = []
    for key in message:
        number = _PLAIN_KEYS.get(key)
        if number is None and key not in ("t", "p"):
            return None
        if number is not None:
            numbers.append(number)
    mti = message.get("t")
    if not (isinstance(mti, str) and len(mti) == 4 and mti.isascii() and mti.isdigit()):
        return None
    parts = [mti.encode("ascii"), sum(1 << (64 - n) for n in numbers).to_bytes(8, "big")]
    for number in sorted(numbers):
        part = _plain_field(_PLAIN[number], message[_PLAIN[number].key])
        if part is None:
            return None
        parts.append(part)
    return b"".join(parts)


def _plain_field(spec: Field, value: Any) -> bytes | None:
    """One field's bytes with its length prefix; None when its value or its length does
    not fit (pyiso8583's path then names the first field that does not, in its order)."""
    if spec.kind == "b":
        if not isinstance(value, bytes | bytearray):
            return None
        data = bytes(value)
    else:
        try:
            data = _CODECS[spec.key][0](value).encode("ascii")
        except MessageFormatError:
            return None
    if spec.prefix:
        if len(data) > spec.length:
            return None
        return b"%0*d" % (spec.prefix, len(data)) + data
    return data if len(data) == spec.length else None


def required(message: Message, key: str) -> Any:
    """The value of field ``key``; :class:`MessageFormatError` if the message lacks it."""
    try:
        return message[key]
    except KeyError:
        spec = _BY_KEY[key]
        raise MessageFormatError(f"{spec.label} ({spec.name}) is missing") from None


# -- framing ---------------------------------------------------------------------------------


def frame(payload: bytes) -> bytes:
    """``payload`` with its 2-byte big-endian length in front."""
    if not 0 < len(payload) <= MAX_MESSAGE:
        raise ISOFramingError(f"a message is 1..{MAX_MESSAGE} bytes, got {len(payload)}")
    return len(payload).to_bytes(LENGTH_PREFIX, "big") + payload


def frame_length(prefix: bytes) -> int:
    """The length a 2-byte prefix announces; :class:`ISOFramingError` if no message has it."""
    if len(prefix) != LENGTH_PREFIX:
        raise ISOFramingError(f"a length prefix is {LENGTH_PREFIX} bytes, got {len(prefix)}")
    length = int.from_bytes(prefix, "big")
    if not 0 < length <= MAX_MESSAGE:
        raise ISOFramingError(f"a message is 1..{MAX_MESSAGE} bytes, the prefix says {length}")
    return length


# -- rendering -------------------------------------------------------------------------------


def render(message: Message) -> str:
    """One line per field (DE 55 one line per data object), for the docs and debugging:
    it shows every value, so it is never written to a service log."""
    lines = []
    for spec in FIELDS:
        if spec.key not in message or spec.key in ("p", "1"):
            continue
        value = message[spec.key]
        if spec.key == "55":
            lines.append(f"{spec.label:<7} {spec.name:<48} ({len(value)} bytes)")
            lines.extend(_render_icc(bytes(value)))
            continue
        shown = value.hex().upper() if isinstance(value, bytes | bytearray) else value
        lines.append(f"{spec.label:<7} {spec.name:<48} {shown}")
    return "\n".join(lines)


def _render_icc(data: bytes) -> list[str]:
    try:
        objects: list[TLV] = parse_tlvs(data)
    except ProtocolError:
        return ["  (not BER-TLV)"]
    return [f"  {obj.tag:<5X} {tag_name(obj.tag):<48} {obj.value.hex().upper()}"
            for obj in objects]
