"""Whole-track pipelines: track object to bits to waveform, and back.

These glue the layers together for callers who just want "record this track" or
"what does this swipe hold"; each layer stays usable on its own.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Sequence

from .bits import DEFAULT_CLOCK_ZEROS, BitRead, Bits, decode_bits_any, encode_bits
from .f2f import DEFAULT_SWIPE, Swipe, decode_f2f, synthesize
from .formats import TRACK1, TRACK2
from .tracks import Track, decode_track

__all__ = ["bits_to_track", "track_to_bits", "track_to_waveform", "waveform_to_track"]


def track_to_bits(
    track: Track,
    *,
    leading_zeros: int = DEFAULT_CLOCK_ZEROS,
    trailing_zeros: int = DEFAULT_CLOCK_ZEROS,
) -> Bits:
    """The bits recorded for ``track``, clocking zeros and LRC included."""
    return encode_bits(
        track.encode(), track.FORMAT, leading_zeros=leading_zeros, trailing_zeros=trailing_zeros
    )


def bits_to_track(bits: Sequence[int], *, check_luhn: bool = True) -> tuple[Track, BitRead]:
    """Decode a track 1 or track 2 bit stream read in either direction."""
    read = decode_bits_any(bits, (TRACK1, TRACK2))
    return decode_track(read.text, check_luhn=check_luhn), read


def track_to_waveform(
    track: Track,
    swipe: Swipe = DEFAULT_SWIPE,
    rng: random.Random | None = None,
    *,
    leading_zeros: int = DEFAULT_CLOCK_ZEROS,
    trailing_zeros: int = DEFAULT_CLOCK_ZEROS,
) -> array:
    """The read-head signal of one swipe of ``track`` (16-bit samples)."""
    bits = track_to_bits(track, leading_zeros=leading_zeros, trailing_zeros=trailing_zeros)
    return synthesize(bits, track.FORMAT.density_bpi, swipe, rng)


def waveform_to_track(
    samples: Sequence[int], *, check_luhn: bool = True
) -> tuple[Track, BitRead]:
    """Decode one swipe's read-head signal into its track (1 or 2, either direction)."""
    return bits_to_track(decode_f2f(samples), check_luhn=check_luhn)
