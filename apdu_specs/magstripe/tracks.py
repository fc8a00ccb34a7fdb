"""ISO/IEC 7813 track 1 (format B) and track 2 data: build, validate, encode, decode.

Theory of operation: a track object holds the card data fields; constructing one
validates every field limit (so an invalid track cannot exist), ``encode()`` gives
the character string from start sentinel to end sentinel, and ``decode()`` parses
such a string back (optionally followed by its LRC character, which is then
checked). Bits, LRC recording and waveforms are the business of ``bits`` and
``f2f``; this module deals only in characters.

Layouts (domain-facts §6.1)::

    track 1:  %B PAN ^ NAME ^ YYMM|^ SSS|^ discretionary ? LRC     (<= 79 chars)
    track 2:  ;  PAN =        YYMM|= SSS|= discretionary ? LRC     (<= 40 chars)

An absent expiry or service code is recorded as one field separator in its place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..crypto.luhn import is_valid as luhn_valid
from ._validate import check_digits, check_length, check_text
from .errors import (
    BadCharacter,
    BadField,
    BadLRC,
    BadLuhn,
    BadSentinel,
    FieldTooLong,
    FieldTooShort,
)
from .formats import TRACK1, TRACK2, TrackFormat
from .service_code import ServiceCode

__all__ = ["Track", "Track1", "Track2", "decode_track"]

PAN_MIN = 8
PAN_MAX = 19
NAME_MIN = 2
NAME_MAX = 26
TRACK1_FORMAT_CODE = "B"


def _check_pan(pan: str, check_luhn: bool) -> None:
    check_length(pan, "PAN", PAN_MIN, PAN_MAX)
    check_digits(pan, "PAN")
    if check_luhn and not luhn_valid(pan):
        raise BadLuhn(pan)


def _check_expiry(expiry: str | None) -> None:
    if expiry is None:
        return
    check_length(expiry, "expiry (YYMM)", 4, 4)
    check_digits(expiry, "expiry (YYMM)")
    if not 1 <= int(expiry[2:]) <= 12:
        raise BadField("expiry (YYMM)", f"month {expiry[2:]} is not 01-12")


def _check_service_code(code: str | None) -> None:
    if code is not None:
        ServiceCode(code)


def _check_recorded_length(encoded: str, fmt: TrackFormat) -> None:
    recorded = len(encoded) + 1  # the LRC character follows the end sentinel
    if recorded > fmt.max_chars:
        raise FieldTooLong(f"{fmt.name} (with sentinels and LRC)", fmt.max_chars, recorded)


def _optional(value: str | None, separator: str) -> str:
    """An absent optional field is recorded as one field separator in its place."""
    return separator if value is None else value


def _unframe(text: str, fmt: TrackFormat) -> str:
    """The characters between the sentinels; checks the trailing LRC when present."""
    if not text.startswith(fmt.start_sentinel):
        raise BadSentinel("start", f"{fmt.name} must begin with {fmt.start_sentinel!r}")
    end = text.find(fmt.end_sentinel)
    if end < 0:
        raise BadSentinel("end", f"no {fmt.end_sentinel!r} in {fmt.name}")
    trailer = text[end + 1 :]
    if len(trailer) > 1:
        raise BadSentinel("end", f"{len(trailer)} characters follow it; at most the LRC may")
    framed = text[: end + 1]
    check_text(framed, fmt.name, fmt, "")
    if trailer:
        expected = fmt.lrc(framed)
        if trailer != expected:
            raise BadLRC(expected, trailer)
    return text[1:end]


class _FieldReader:
    """Consumes a track body field by field, naming the field on any error."""

    def __init__(self, body: str, fmt: TrackFormat) -> None:
        self._body = body
        self._pos = 0
        self._sep = fmt.field_separator
        self._name = fmt.name

    def until_separator(self, what: str) -> str:
        end = self._body.find(self._sep, self._pos)
        if end < 0:
            raise BadField(self._name, f"no {self._sep!r} after the {what}")
        value = self._body[self._pos : end]
        self._pos = end + 1
        return value

    def fixed_or_separator(self, length: int, what: str) -> str | None:
        if self._body.startswith(self._sep, self._pos):
            self._pos += 1
            return None
        value = self._body[self._pos : self._pos + length]
        if len(value) < length:
            raise FieldTooShort(what, length, len(value))
        self._pos += length
        return value

    def rest(self) -> str:
        value = self._body[self._pos :]
        self._pos = len(self._body)
        return value


class _Track:
    """What both tracks share; each names its :class:`TrackFormat` as ``FORMAT``."""

    FORMAT: ClassVar[TrackFormat]
    service_code: str | None

    def encode(self) -> str:
        raise NotImplementedError  # abstract: each track lays out its own fields

    @property
    def service(self) -> ServiceCode | None:
        return None if self.service_code is None else ServiceCode(self.service_code)

    def encode_with_lrc(self) -> str:
        """Start sentinel through end sentinel, then the LRC character."""
        text = self.encode()
        return text + self.FORMAT.lrc(text)


@dataclass(frozen=True)
class Track2(_Track):
    """Track 2: PAN, expiry, service code and numeric discretionary data."""

    FORMAT: ClassVar[TrackFormat] = TRACK2

    pan: str
    expiry: str | None = None
    service_code: str | None = None
    discretionary: str = ""
    check_luhn: bool = field(default=True, kw_only=True, compare=False, repr=False)
    """Validate the PAN's Luhn digit; classic test PANs fail it (domain-facts §6.4)."""

    def __post_init__(self) -> None:
        _check_pan(self.pan, self.check_luhn)
        _check_expiry(self.expiry)
        _check_service_code(self.service_code)
        check_text(self.discretionary, "track 2 discretionary data", TRACK2, ";?")
        _check_recorded_length(self.encode(), TRACK2)

    def encode(self) -> str:
        """``;PAN=YYMMSSSDD?`` (start sentinel through end sentinel, no LRC)."""
        sep = TRACK2.field_separator
        return (
            f";{self.pan}{sep}{_optional(self.expiry, sep)}"
            f"{_optional(self.service_code, sep)}{self.discretionary}?"
        )

    @classmethod
    def decode(cls, text: str, *, check_luhn: bool = True) -> Track2:
        """Parse ``;…?`` with or without its trailing LRC character."""
        fields = _FieldReader(_unframe(text, TRACK2), TRACK2)
        pan = fields.until_separator("PAN")
        expiry = fields.fixed_or_separator(4, "expiry (YYMM)")
        service_code = fields.fixed_or_separator(3, "service code")
        return cls(pan, expiry, service_code, fields.rest(), check_luhn=check_luhn)

    def to_track2_equivalent(self) -> bytes:
        """EMV tag 57 value: the track 2 digits in BCD, ``D`` as separator, ``F`` padded."""
        if self.expiry is None or self.service_code is None:
            raise BadField("track 2 equivalent", "needs both an expiry and a service code")
        check_digits(self.discretionary, "track 2 equivalent discretionary data")
        nibbles = f"{self.pan}D{self.expiry}{self.service_code}{self.discretionary}"
        if len(nibbles) % 2:
            nibbles += "F"
        return bytes.fromhex(nibbles)

    @classmethod
    def from_track2_equivalent(cls, value: bytes, *, check_luhn: bool = True) -> Track2:
        """Parse an EMV tag 57 value back into a track 2 object."""
        nibbles = value.hex().upper()
        if nibbles.endswith("F"):
            nibbles = nibbles[:-1]
        for position, char in enumerate(nibbles):
            if char not in "0123456789D":
                raise BadCharacter(char, position, "track 2 equivalent")
        if nibbles.count("D") != 1:
            raise BadField("track 2 equivalent", "needs exactly one 'D' separator")
        pan, _, tail = nibbles.partition("D")
        if len(tail) < 7:
            raise FieldTooShort("track 2 equivalent expiry and service code", 7, len(tail))
        return cls(pan, tail[:4], tail[4:7], tail[7:], check_luhn=check_luhn)


@dataclass(frozen=True)
class Track1(_Track):
    """Track 1 format B: PAN, cardholder name, expiry, service code, discretionary data."""

    FORMAT: ClassVar[TrackFormat] = TRACK1

    pan: str
    name: str
    expiry: str | None = None
    service_code: str | None = None
    discretionary: str = ""
    check_luhn: bool = field(default=True, kw_only=True, compare=False, repr=False)
    """Validate the PAN's Luhn digit; classic test PANs fail it (domain-facts §6.4)."""

    def __post_init__(self) -> None:
        _check_pan(self.pan, self.check_luhn)
        check_length(self.name, "name", NAME_MIN, NAME_MAX)
        check_text(self.name, "name", TRACK1, "%?^")
        _check_expiry(self.expiry)
        _check_service_code(self.service_code)
        check_text(self.discretionary, "track 1 discretionary data", TRACK1, "%?")
        _check_recorded_length(self.encode(), TRACK1)

    @property
    def surname(self) -> str:
        """The part of ``SURNAME/FIRST`` before the slash (the whole name if none)."""
        return self.name.partition("/")[0].strip()

    @property
    def given_names(self) -> str:
        return self.name.partition("/")[2].strip()

    def encode(self) -> str:
        """``%BPAN^NAME^YYMMSSSDD?`` (start sentinel through end sentinel, no LRC)."""
        sep = TRACK1.field_separator
        return (
            f"%{TRACK1_FORMAT_CODE}{self.pan}{sep}{self.name}{sep}"
            f"{_optional(self.expiry, sep)}{_optional(self.service_code, sep)}"
            f"{self.discretionary}?"
        )

    @classmethod
    def decode(cls, text: str, *, check_luhn: bool = True) -> Track1:
        """Parse ``%B…?`` with or without its trailing LRC character."""
        body = _unframe(text, TRACK1)
        if not body.startswith(TRACK1_FORMAT_CODE):
            code = body[:1] or "nothing"
            raise BadField("track 1 format code", f"{code!r} where 'B' is required")
        fields = _FieldReader(body[1:], TRACK1)
        pan = fields.until_separator("PAN")
        name = fields.until_separator("name")
        expiry = fields.fixed_or_separator(4, "expiry (YYMM)")
        service_code = fields.fixed_or_separator(3, "service code")
        return cls(pan, name, expiry, service_code, fields.rest(), check_luhn=check_luhn)


Track = Track1 | Track2


def decode_track(text: str, *, check_luhn: bool = True) -> Track:
    """Decode a track 1 or track 2 string, chosen by its start sentinel."""
    if text.startswith(TRACK1.start_sentinel):
        return Track1.decode(text, check_luhn=check_luhn)
    if text.startswith(TRACK2.start_sentinel):
        return Track2.decode(text, check_luhn=check_luhn)
    raise BadSentinel("start", "a track string begins with '%' (track 1) or ';' (track 2)")
