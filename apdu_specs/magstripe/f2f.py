"""F2F (Aiken biphase) recording: bits to a sampled read-head signal and back.

Theory of operation (domain-facts §6.2). Every bit cell begins with a flux
transition and a ``1`` adds one more in the middle of the cell; one final
transition closes the last cell, so the stream reads the same way backwards.
Passing the head over a transition induces a voltage pulse (modelled as a
Lorentzian, the textbook isolated-transition response) whose polarity
alternates from one transition to the next and whose height grows with speed.

Synthesis places transitions along the stripe at the track's density, converts
position to time for a swipe whose speed changes linearly along the card
(``speed_drift``), then adds timing jitter and amplitude noise.

Decoding is what a reader ASIC does. A rough first pass finds the pulses and
the approximate bit period. The signal is then smoothed over a fraction of a
cell, and the pulses are found again: alternating-polarity peaks above a
threshold that follows the local pulse height. The first run of evenly spaced
gaps from either end (the clocking zeros) locks the clock and cuts off noise
outside the recording. Each gap is then classified as a whole cell (``0``) or
two half cells (``1``), and the period is nudged after every bit so a swipe
that speeds up or slows down stays locked.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from statistics import median

from .bits import Bits
from .errors import BadField, NoSignal

__all__ = [
    "DEFAULT_SWIPE",
    "Swipe",
    "decode_f2f",
    "find_transitions",
    "flux_transitions",
    "synthesize",
]

FULL_SCALE = 32767
PULSE_REACH = 5.0
"""Pulses are rendered out to this many pulse widths either side of their peak."""
MIN_SAMPLES_PER_BIT = 8.0
CLOCK_LOCK_INTERVALS = 8
"""Gaps averaged (median) to measure the first bit period: all must be clocking zeros."""
HALF_CELL_LIMIT = 0.75
"""A gap shorter than this many periods is half a ``1`` cell; longer is a ``0`` cell."""
LOST_CLOCK_LIMIT = 1.6
"""A gap (or ``1`` pair) longer than this many periods means transitions went missing."""
PERIOD_TRACKING = 0.1
"""Weight of each new bit in the running period estimate."""
AMPLITUDE_PERCENTILE = 0.99
PEAK_THRESHOLD = 0.4
"""Pulses are found above this fraction of the local pulse height ..."""
THRESHOLD_FLOOR = 0.2
"""... and never below this fraction of the whole signal's pulse height."""
LOCAL_AMPLITUDE_CELLS = 16
"""The local pulse height is measured over blocks of this many bit cells (± one block)."""
CLOCK_LOCK_TOLERANCE = 0.25
"""Clocking zeros lock the clock when this close (relative) to their median spacing."""
SMOOTHING_DIVISOR = 16
"""Noise is averaged over about a sixteenth of a bit cell either side of each sample."""


@dataclass(frozen=True)
class Swipe:
    """How the card passes the read head, and how the signal is sampled."""

    speed_ips: float = 10.0
    """Speed at the first bit, in inches per second."""
    sample_rate: int = 48_000
    speed_drift: float = 0.0
    """Relative speed change along the card: 0.3 is 30 % faster at the last bit."""
    jitter: float = 0.0
    """Standard deviation of each transition's timing, as a fraction of a bit cell."""
    noise: float = 0.0
    """Standard deviation of additive noise, as a fraction of the pulse height."""
    reverse: bool = False
    """Swiped the other way round: the samples come out in reverse order."""
    amplitude: float = 0.5
    """Pulse height at the fastest point, as a fraction of full scale."""
    pulse_width: float = 0.35
    """Pulse width at half height, as a fraction of half a bit cell."""

    def __post_init__(self) -> None:
        checks = (
            ("swipe speed", self.speed_ips > 0, "must be positive"),
            ("sample rate", self.sample_rate > 0, "must be positive"),
            ("speed drift", self.speed_drift > -0.9, "must be above -0.9"),
            ("jitter", 0 <= self.jitter <= 0.2, "must be between 0 and 0.2 bit cells"),
            ("noise", 0 <= self.noise <= 1, "must be between 0 and 1"),
            ("amplitude", 0 < self.amplitude <= 1, "must be above 0 and at most 1"),
            ("pulse width", 0 < self.pulse_width <= 1, "must be above 0 and at most 1"),
        )
        for what, ok, reason in checks:
            if not ok:
                raise BadField(what, reason)


DEFAULT_SWIPE = Swipe()


def flux_transitions(bits: Sequence[int]) -> list[int]:
    """Transition positions in half-cell units, including the one closing the last cell."""
    positions: list[int] = []
    for index, bit in enumerate(bits):
        positions.append(2 * index)
        if bit:
            positions.append(2 * index + 1)
    positions.append(2 * len(bits))
    return positions


class _SwipeProfile:
    """Position along the recording (inches) to swipe speed and to time since the first bit."""

    def __init__(self, swipe: Swipe, length_in: float) -> None:
        self._v0 = swipe.speed_ips
        self._slope = swipe.speed_drift / length_in if length_in else 0.0
        self.peak_speed = swipe.speed_ips * max(1.0, 1.0 + swipe.speed_drift)

    def speed(self, x: float) -> float:
        return self._v0 * (1.0 + self._slope * x)

    def time(self, x: float) -> float:
        if abs(self._slope) < 1e-12:
            return x / self._v0
        return math.log1p(self._slope * x) / (self._v0 * self._slope)


def synthesize(
    bits: Sequence[int],
    density_bpi: int,
    swipe: Swipe = DEFAULT_SWIPE,
    rng: random.Random | None = None,
) -> array:
    """The read-head signal (16-bit samples) for ``bits`` recorded at ``density_bpi``.

    ``rng`` drives jitter and noise; the default is seeded so output is reproducible.
    """
    rng = rng if rng is not None else random.Random(0)
    cell_in = 1.0 / density_bpi
    profile = _SwipeProfile(swipe, len(bits) * cell_in)
    samples_per_bit = swipe.sample_rate * cell_in / profile.peak_speed
    if samples_per_bit < MIN_SAMPLES_PER_BIT:
        raise BadField(
            "sample rate",
            f"{samples_per_bit:.1f} samples per bit at this speed and density; "
            f"at least {MIN_SAMPLES_PER_BIT:g} are needed",
        )
    lead = 2 * cell_in / swipe.speed_ips
    pulses: list[tuple[float, float, float]] = []
    for index, half_cells in enumerate(flux_transitions(bits)):
        x = half_cells * cell_in / 2
        speed = profile.speed(x)
        at = lead + profile.time(x) + rng.gauss(0.0, swipe.jitter * cell_in / speed)
        height = swipe.amplitude * FULL_SCALE * speed / profile.peak_speed
        width = swipe.pulse_width * cell_in / 2 / speed
        pulses.append((at, -height if index % 2 else height, width))
    duration = max(at for at, _, _ in pulses) + lead
    signal = [0.0] * (int(duration * swipe.sample_rate) + 1)
    for at, height, width in pulses:
        _add_pulse(signal, swipe.sample_rate, at, height, width)
    noise = swipe.noise * swipe.amplitude * FULL_SCALE
    if noise:
        signal = [value + rng.gauss(0.0, noise) for value in signal]
    if swipe.reverse:
        signal.reverse()
    return array("h", (max(-FULL_SCALE - 1, min(FULL_SCALE, round(v))) for v in signal))


def _add_pulse(signal: list[float], rate: int, at: float, height: float, width: float) -> None:
    """Add a Lorentzian pulse centred at time ``at`` with half-height width ``width``."""
    first = max(0, math.ceil((at - PULSE_REACH * width) * rate))
    last = min(len(signal) - 1, math.floor((at + PULSE_REACH * width) * rate))
    scale = 2.0 / (width * rate)
    centre = at * rate
    for n in range(first, last + 1):
        u = (n - centre) * scale
        signal[n] += height / (1.0 + u * u)


def _amplitude(magnitudes: Sequence[float]) -> float:
    """Pulse height, robust to a few outliers: the 99th percentile of ``|sample|``."""
    ordered = sorted(magnitudes)
    return ordered[int((len(ordered) - 1) * AMPLITUDE_PERCENTILE)] if ordered else 0.0


def _thresholds(samples: Sequence[float], block: int) -> list[float]:
    """Pulse threshold for each ``block`` of samples.

    The head's output grows with speed, so a swipe that slows down or speeds up
    needs a threshold that follows the local pulse height; a floor relative to the
    whole signal keeps the silence around the recording from producing pulses.
    """
    magnitudes = [abs(v) for v in samples]
    overall = _amplitude(magnitudes)
    if overall == 0:
        raise NoSignal("the waveform is silent")
    return [
        max(
            PEAK_THRESHOLD * _amplitude(magnitudes[max(0, first - block) : first + 2 * block]),
            THRESHOLD_FLOOR * overall,
        )
        for first in range(0, len(magnitudes), block)
    ]


def _refine(samples: Sequence[float], index: int) -> float:
    """Sub-sample peak position from a parabola through the peak and its neighbours."""
    if index == 0 or index == len(samples) - 1:
        return float(index)
    left, mid, right = (abs(samples[index + k]) for k in (-1, 0, 1))
    curvature = left - 2 * mid + right
    if curvature >= 0:
        return float(index)
    return index + 0.5 * (left - right) / curvature


def find_transitions(samples: Sequence[float], block: int | None = None) -> list[float]:
    """Positions (in samples) of the alternating-polarity pulses in ``samples``.

    A pulse is the largest excursion between two crossings of the threshold of
    opposite sign; same-sign excursions in a row are one pulse (plus noise), which
    keeps noise spikes from adding transitions. With ``block`` the threshold
    follows the pulse height measured over blocks of that many samples.
    """
    block = max(1, block or len(samples))
    limits = _thresholds(samples, block)
    peaks: list[float] = []
    sign = 0
    best_index, best_value = 0, 0.0
    for index, value in enumerate(samples):
        threshold = limits[index // block]
        if value > threshold:
            here = 1
        elif value < -threshold:
            here = -1
        else:
            continue
        if here != sign:
            if sign:
                peaks.append(_refine(samples, best_index))
            sign, best_index, best_value = here, index, abs(value)
        elif abs(value) > best_value:
            best_index, best_value = index, abs(value)
    if sign:
        peaks.append(_refine(samples, best_index))
    return peaks


def _gaps(times: Sequence[float]) -> list[float]:
    return [later - earlier for earlier, later in pairwise(times)]


def _smooth(samples: Sequence[int], window: int) -> list[float]:
    """Centred moving average over ``window`` (odd) samples: divides white noise by √window."""
    half = window // 2
    prefix = [0, *accumulate(samples)]
    last = len(samples)
    return [
        (prefix[min(n + half + 1, last)] - prefix[max(n - half, 0)]) / window
        for n in range(last)
    ]


def _lock_clock(gaps: Sequence[float]) -> tuple[int, float]:
    """Where the clocking zeros start, and their period.

    The first run of evenly spaced gaps is taken; anything before it (a noise
    spike ahead of the recording) is skipped.
    """
    for start in range(len(gaps) - CLOCK_LOCK_INTERVALS + 1):
        run = gaps[start : start + CLOCK_LOCK_INTERVALS]
        period = median(run)
        if all(abs(gap - period) <= CLOCK_LOCK_TOLERANCE * period for gap in run):
            return start, period
    raise NoSignal(f"no run of {CLOCK_LOCK_INTERVALS} evenly spaced clocking zeros")


def _recording_gaps(samples: Sequence[int]) -> list[float]:
    """Gaps between the transitions of the recording proper, noise on either side cut off."""
    _, rough_period = _lock_clock(_gaps(find_transitions(samples)))
    window = 2 * int(rough_period / SMOOTHING_DIVISOR) + 1
    smoothed = _smooth(samples, window) if window > 1 else samples
    gaps = _gaps(find_transitions(smoothed, block=round(LOCAL_AMPLITUDE_CELLS * rough_period)))
    first, _ = _lock_clock(gaps)
    from_end, _ = _lock_clock(gaps[::-1])
    return gaps[first : len(gaps) - from_end]


def decode_f2f(samples: Sequence[int]) -> Bits:
    """Recover the recorded bits from a read-head signal, in the order sampled.

    Decoding stops where the clock is lost (missing transitions); the bits up to
    there are returned and the track decoder reports what is missing.
    """
    gaps = _recording_gaps(samples)
    period = median(gaps[:CLOCK_LOCK_INTERVALS])
    bits: list[int] = []
    index = 0
    while index < len(gaps):
        gap = gaps[index]
        if gap >= HALF_CELL_LIMIT * period:
            bit, cell, index = 0, gap, index + 1
        elif index + 1 < len(gaps):
            bit, cell, index = 1, gap + gaps[index + 1], index + 2
        else:
            break
        if cell > LOST_CLOCK_LIMIT * period:
            break
        bits.append(bit)
        period += PERIOD_TRACKING * (cell - period)
    return tuple(bits)
