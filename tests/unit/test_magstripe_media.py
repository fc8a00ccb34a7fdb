"""WAV and PNG bytes for swipes: round trips, format checks, typed errors."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.magstripe import BadField, BadWaveFile, Swipe, Track2, track_to_waveform
from apdu_specs.magstripe.plot import render_waveform_png
from apdu_specs.magstripe.wav import read_wav, wav_bytes

pytestmark = pytest.mark.unit

TRACK = Track2("4111111111111111", "2512", "201")


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


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def _pixels(png: bytes) -> tuple[int, int, bytes]:
    chunks = dict(_png_chunks(png))
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour, interlace) == (8, 2, 0)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    assert len(raw) == height * stride
    assert all(raw[row * stride] == 0 for row in range(height))  # filter type "none"
    return width, height, b"".join(raw[r * stride + 1 : (r + 1) * stride] for r in range(height))


def test_png_is_well_formed_and_draws_trace_and_axes() -> None:
    samples = track_to_waveform(TRACK, Swipe(sample_rate=20_000))
    png = render_waveform_png(samples, 20_000, width=400, height=120)
    assert [kind for kind, _ in _png_chunks(png)] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, pixels = _pixels(png)
    assert (width, height) == (400, 120)

    def pixel(x: int, y: int) -> bytes:
        return pixels[3 * (y * width + x) : 3 * (y * width + x) + 3]

    colours = {pixels[i : i + 3] for i in range(0, len(pixels), 3)}
    assert bytes((31, 90, 180)) in colours  # the trace
    assert pixel(16, 50) == b"\x00\x00\x00"  # the time axis' left edge (margin 16)
    assert pixel(200, 120 - 34) == b"\x00\x00\x00"  # the baseline
    assert pixel(0, 0) == b"\xff\xff\xff"


def test_png_window_and_size_errors() -> None:
    samples = track_to_waveform(TRACK, Swipe(sample_rate=20_000))
    whole = render_waveform_png(samples, 20_000)
    part = render_waveform_png(samples, 20_000, start=100, stop=2000)
    assert whole != part
    with pytest.raises(BadField):
        render_waveform_png(samples, 20_000, start=len(samples))
    with pytest.raises(BadField):
        render_waveform_png([], 20_000)
    with pytest.raises(BadField):
        render_waveform_png(samples, 20_000, width=10)
