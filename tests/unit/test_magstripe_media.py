"""WAV bytes for swipes: round trips, format checks, typed errors."""

from __future__ import annotations

import io
import struct
import wave
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.magstripe import BadWaveFile
from apdu_specs.magstripe.wav import read_wav, wav_bytes

pytestmark = pytest.mark.unit


@settings(max_examples=50)
@given(st.lists(st.integers(-32768, 32767), max_size=300), st.integers(8000, 96000))
def test_wav_round_trip(samples: list[int], rate: int) -> None:
    data = wav_bytes(samples, rate)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    decoded = read_wav(data)
    assert decoded.samples.tolist() == samples
    assert decoded.sample_rate == rate


def test_wav_is_mono_16_bit_little_endian() -> None:
    data = wav_bytes(array("h", [1, -2]), 48_000)
    with wave.open(io.BytesIO(data)) as src:
        assert (src.getnchannels(), src.getsampwidth(), src.getframerate()) == (1, 2, 48_000)
        assert src.readframes(2) == struct.pack("<hh", 1, -2)


def _wav(channels: int, width: int, frames: bytes) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(44_100)
        out.writeframes(frames)
    return buffer.getvalue()


def test_stereo_wav_gives_its_first_channel() -> None:
    frames = struct.pack("<6h", 1, 100, 2, 200, 3, 300)
    assert read_wav(_wav(2, 2, frames)).samples.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "data",
    [b"", b"RIFF1234WAVEjunk", b"not a wav file at all", _wav(1, 1, b"\x80\x81")],
)
def test_unreadable_wav_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(BadWaveFile):
        read_wav(data)


def test_samples_outside_16_bits_are_refused() -> None:
    with pytest.raises(BadWaveFile):
        wav_bytes([40_000], 8000)
