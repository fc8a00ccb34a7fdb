"""Reading the stripe at the terminal, and when the stripe may be used at all.

A swipe arrives as what a keyboard-wedge reader types (``%B…?;…?``) or as the raw
read-head signal of a swipe (a WAV file), decoded with :mod:`apdu_specs.magstripe`.
Track 2 is what the issuer authorises on (its CVV).

The service code rules (ISO/IEC 7813, docs/stripe.md): a card whose first digit says
"chip present" (2 or 6) falls back to the stripe only after its chip failed at this
chip-capable terminal — the transaction record then says ``fallback`` with the chip's
error; ATM-only and cash-only cards never buy goods here.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.magstripe import StripeError, Track1, Track2, parse_wedge, waveform_to_track
from apdu_specs.magstripe.service_code import Services
from apdu_specs.magstripe.wav import read_wav

from .errors import FallbackNotAllowedError, StripeReadError

__all__ = ["StripeRead", "check_fallback", "read_stripe"]

_NO_GOODS = (Services.ATM_ONLY, Services.CASH_ONLY)


@dataclass(frozen=True)
class StripeRead:
    """One swipe: track 2 (always), track 1 when the reader had it, and how it came."""

    track2: Track2
    track1: Track1 | None = None
    source: str = "wedge"  #: "wedge" or "wav"

    @property
    def masked_pan(self) -> str:
        pan = self.track2.pan
        return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]

    @property
    def name(self) -> str:
        return self.track1.name if self.track1 is not None else ""


def read_stripe(swipe: str | bytes) -> StripeRead:
    """Decode keyboard-wedge text (``str``) or a WAV recording of a swipe (``bytes``)."""
    try:
        if isinstance(swipe, str):
            read = parse_wedge(swipe, check_luhn=False)
            if read.track2 is None:
                raise StripeReadError("the reader could not read track 2 "
                                      f"(failed tracks: {list(read.failed_tracks) or 'none'})")
            return StripeRead(read.track2, read.track1, "wedge")
        track, _ = waveform_to_track(read_wav(swipe).samples, check_luhn=False)
    except StripeError as exc:
        raise StripeReadError(f"unreadable swipe: {exc}") from None
    if isinstance(track, Track1):
        raise StripeReadError("the recording holds track 1; the issuer authorises on track 2")
    return StripeRead(track, None, "wav")


def check_fallback(read: StripeRead, chip_error: str | None) -> None:
    """Raise :class:`FallbackNotAllowedError` unless this swipe may pay for goods now."""
    service = read.track2.service
    if service is None:
        raise FallbackNotAllowedError("track 2 has no service code: the terminal cannot tell "
                                      "what the card allows")
    if service.services in _NO_GOODS:
        raise FallbackNotAllowedError(f"service code {service}: {service.services.value}")
    if service.chip_present and chip_error is None:
        raise FallbackNotAllowedError(f"service code {service}: the card has a chip; use it "
                                      "(the stripe is only a fallback after a chip failure)")
