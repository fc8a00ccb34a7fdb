"""F2F (Aiken biphase) waveforms: synthesis and the clock-recovering decoder."""

from __future__ import annotations

import math
import random
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.magstripe import (
    TRACK2,
    BadField,
    NoSignal,
    StripeError,
    Swipe,
    Track1,
    Track2,
    decode_f2f,
    synthesize,
    track_to_waveform,
    waveform_to_track,
)
from apdu_specs.magstripe.f2f import find_transitions, flux_transitions
from apdu_specs.magstripe.swipe import track_to_bits

from .test_magstripe_tracks import tracks

pytestmark = pytest.mark.unit

Track = Track1 | Track2
TRACK = Track2("4111111111111111", "2512", "201", "1442256100")


def test_flux_transitions_follow_aiken_biphase() -> None:
    # Every cell starts with a transition, a 1 adds one mid-cell, one more closes the
    # last cell (positions in half cells): 0 -> 0; 1 -> 2, 3; 0 -> 4; end -> 6.
    assert flux_transitions((0, 1, 0)) == [0, 2, 3, 4, 6]
    assert flux_transitions(()) == [0]


def test_pulses_alternate_in_polarity_at_the_transitions() -> None:
    bits = (0,) * 10 + (1, 0, 1, 1) + (0,) * 10
    swipe = Swipe(speed_ips=10, sample_rate=30_000)
    samples = synthesize(bits, TRACK2.density_bpi, swipe)
    peaks = find_transitions(samples)
    assert len(peaks) == len(flux_transitions(bits))
    signs = [math.copysign(1, samples[round(p)]) for p in peaks]
    assert all(a != b for a, b in pairwise(signs))
    # One bit cell is 30000 / (75 * 10) = 40 samples; a half cell 20.
    gaps = [b - a for a, b in pairwise(peaks)]
    assert all(abs(g - 40) < 1 for g in gaps[:10])
    assert abs(gaps[10] - 20) < 1


@settings(max_examples=40, deadline=None)
@given(
    track=tracks,
    speed=st.floats(5, 40),
    samples_per_bit=st.floats(12, 24),
    drift=st.floats(-0.4, 0.6),
    jitter=st.floats(0, 0.03),
    noise=st.floats(0, 0.08),
    reverse=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_data_to_waveform_and_back(
    track: Track,
    speed: float,
    samples_per_bit: float,
    drift: float,
    jitter: float,
    noise: float,
    reverse: bool,
    seed: int,
) -> None:
    # data -> track -> bits -> waveform -> bits -> track, with an uneven, noisy swipe.
    rate = math.ceil(samples_per_bit * speed * track.FORMAT.density_bpi * (1 + max(drift, 0)))
    swipe = Swipe(speed_ips=speed, sample_rate=rate, speed_drift=drift, jitter=jitter,
                  noise=noise, reverse=reverse)
    samples = track_to_waveform(track, swipe, random.Random(seed))
    bits = decode_f2f(samples)
    assert bits == (track_to_bits(track)[::-1] if reverse else track_to_bits(track))
    decoded, read = waveform_to_track(samples)
    assert decoded == track
    assert read.reversed is reverse


def test_a_swipe_that_doubles_its_speed_stays_locked() -> None:
    swipe = Swipe(speed_ips=8, sample_rate=48_000, speed_drift=1.0, jitter=0.01, noise=0.03)
    assert waveform_to_track(track_to_waveform(TRACK, swipe))[0] == TRACK


def test_noise_ahead_of_the_recording_is_skipped() -> None:
    samples = track_to_waveform(TRACK, Swipe(sample_rate=20_000))
    spike = max(samples)
    samples[5] = -spike  # a click before the clocking zeros
    assert waveform_to_track(samples)[0] == TRACK


def test_synthesis_is_reproducible_from_the_seed() -> None:
    swipe = Swipe(sample_rate=20_000, jitter=0.02, noise=0.05)
    first = track_to_waveform(TRACK, swipe, random.Random(7))
    assert first == track_to_waveform(TRACK, swipe, random.Random(7))
    assert first != track_to_waveform(TRACK, swipe, random.Random(8))


def test_leading_and_trailing_zero_counts_are_parameters() -> None:
    swipe = Swipe(sample_rate=20_000)
    short = track_to_waveform(TRACK, swipe, leading_zeros=10, trailing_zeros=10)
    assert len(short) < len(track_to_waveform(TRACK, swipe))
    assert waveform_to_track(short)[0] == TRACK


def test_silence_and_too_few_transitions_are_no_signal() -> None:
    with pytest.raises(NoSignal):
        decode_f2f([0] * 1000)
    with pytest.raises(NoSignal):
        decode_f2f(synthesize((0, 0, 0), TRACK2.density_bpi, Swipe(sample_rate=20_000)))
    with pytest.raises(NoSignal):
        decode_f2f([])


def test_a_dropout_mid_swipe_is_a_stripe_error() -> None:
    samples = track_to_waveform(TRACK, Swipe(sample_rate=20_000))
    middle = len(samples) // 2
    for n in range(middle, middle + 400):
        samples[n] = 0
    with pytest.raises(StripeError):
        waveform_to_track(samples)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"speed_ips": 0},
        {"sample_rate": 0},
        {"speed_drift": -0.95},
        {"jitter": 0.5},
        {"noise": -0.1},
        {"amplitude": 1.5},
        {"pulse_width": 0},
    ],
)
def test_swipe_parameters_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(BadField):
        Swipe(**kwargs)  # type: ignore[arg-type]


def test_too_few_samples_per_bit_is_refused() -> None:
    # 8000 Hz at 50 in/s on track 1 (210 bpi) is 0.76 samples per bit.
    with pytest.raises(BadField) as caught:
        synthesize((0, 1) * 20, 210, Swipe(speed_ips=50, sample_rate=8000))
    assert "samples per bit" in str(caught.value)


def test_samples_are_16_bit_and_clipped() -> None:
    samples = track_to_waveform(TRACK, Swipe(sample_rate=20_000, amplitude=1.0, noise=0.5))
    assert samples.typecode == "h"
    assert max(samples) <= 32767 and min(samples) >= -32768
