"""Typed magstripe errors: each names what was wrong and where.

Every malformed track string, bit stream, waveform or WAV file surfaces as a
:class:`StripeError` subclass, so a reader-side caller can tell a parity error
from a missing sentinel without parsing messages, and never sees an
``IndexError`` from deep inside a decoder.
"""

from __future__ import annotations

from ..errors import ProtocolError

__all__ = [
    "BadCharacter",
    "BadField",
    "BadLRC",
    "BadLuhn",
    "BadParity",
    "BadSentinel",
    "BadWaveFile",
    "FieldTooLong",
    "FieldTooShort",
    "NoSignal",
    "StripeError",
    "mask_pan",
]


def mask_pan(pan: str) -> str:
    """First six and last four digits only, as receipts and logs show a PAN."""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


class StripeError(ProtocolError):
    """Base of every error raised while building or reading magstripe data."""


class BadCharacter(StripeError):
    """A character that the track's character set (or the field) does not allow."""

    def __init__(self, char: str, position: int, where: str) -> None:
        self.char = char
        self.position = position
        self.where = where
        super().__init__(f"{where}: character {char!r} at position {position} is not allowed")


class BadParity(StripeError):
    """A recorded character whose odd-parity bit does not match its data bits."""

    def __init__(self, position: int, bit_offset: int | None = None) -> None:
        self.position = position
        self.bit_offset = bit_offset
        at = "" if bit_offset is None else f" (bit {bit_offset} of the stream)"
        super().__init__(f"parity error in character {position}{at}")


class BadLRC(StripeError):
    """The longitudinal redundancy check character does not match the data."""

    def __init__(self, expected: str, found: str | None) -> None:
        self.expected = expected
        self.found = found
        if found is None:
            super().__init__(f"LRC missing after the end sentinel (expected {expected!r})")
        else:
            super().__init__(f"LRC mismatch: computed {expected!r}, recorded {found!r}")


class BadSentinel(StripeError):
    """The start or end sentinel is missing or not where it must be."""

    def __init__(self, which: str, detail: str) -> None:
        self.which = which
        super().__init__(f"{which} sentinel: {detail}")


class FieldTooLong(StripeError):
    """A field (or the whole track) longer than ISO/IEC 7813 allows."""

    def __init__(self, field: str, limit: int, length: int) -> None:
        self.field = field
        self.limit = limit
        self.length = length
        super().__init__(f"{field} is {length} characters long; the limit is {limit}")


class FieldTooShort(StripeError):
    """A field shorter than ISO/IEC 7813 allows."""

    def __init__(self, field: str, limit: int, length: int) -> None:
        self.field = field
        self.limit = limit
        self.length = length
        super().__init__(f"{field} is {length} characters long; the minimum is {limit}")


class BadField(StripeError):
    """A field of the right length whose value is malformed (month 13, format code X)."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class BadLuhn(StripeError):
    """A PAN whose Luhn (mod-10) check digit is wrong; the message masks the PAN."""

    def __init__(self, pan: str) -> None:
        self.masked_pan = mask_pan(pan)
        super().__init__(f"PAN {self.masked_pan} fails the Luhn check")


class NoSignal(StripeError):
    """A waveform with too few flux transitions to lock a clock on."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"no readable swipe: {reason}")


class BadWaveFile(StripeError):
    """A WAV file that is not mono 16-bit PCM or is damaged."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"WAV file: {reason}")
