"""Magnetic stripe (ISO/IEC 7813 tracks 1 and 2) down to the F2F waveform.

Layers, each usable alone (pure functions, no I/O):

- ``tracks``: card data <-> track strings (``%B…?`` / ``;…?``), field limits, Luhn;
  ``service_code`` and ``discretionary`` give the meaning and layout of two fields.
- ``bits``: track strings <-> recorded bits (odd parity, LRC, clocking zeros, direction).
- ``f2f``: bits <-> sampled read-head signal (Aiken biphase).
- ``swipe``: the whole pipeline in one call; ``wedge``: keyboard-wedge reader output.
- ``wav``: WAV bytes for saving a swipe (``host.stripe_plot`` plots one).
"""

from .bits import BitRead, decode_bits, decode_bits_any, encode_bits
from .discretionary import DiscretionaryData
from .errors import (
    BadCharacter,
    BadField,
    BadLRC,
    BadLuhn,
    BadParity,
    BadSentinel,
    BadWaveFile,
    FieldTooLong,
    FieldTooShort,
    NoSignal,
    StripeError,
)
from .f2f import Swipe, decode_f2f, synthesize
from .formats import TRACK1, TRACK2, TRACK3, TrackFormat
from .service_code import ServiceCode
from .swipe import bits_to_track, track_to_bits, track_to_waveform, waveform_to_track
from .tracks import Track, Track1, Track2, decode_track
from .wedge import WedgeRead, parse_wedge

__all__ = [
    "TRACK1",
    "TRACK2",
    "TRACK3",
    "BadCharacter",
    "BadField",
    "BadLRC",
    "BadLuhn",
    "BadParity",
    "BadSentinel",
    "BadWaveFile",
    "BitRead",
    "DiscretionaryData",
    "FieldTooLong",
    "FieldTooShort",
    "NoSignal",
    "ServiceCode",
    "StripeError",
    "Swipe",
    "Track",
    "Track1",
    "Track2",
    "TrackFormat",
    "WedgeRead",
    "bits_to_track",
    "decode_bits",
    "decode_bits_any",
    "decode_f2f",
    "decode_track",
    "encode_bits",
    "parse_wedge",
    "synthesize",
    "track_to_bits",
    "track_to_waveform",
    "waveform_to_track",
]
