"""Mono 16-bit PCM WAV, to and from bytes, so swipes can be saved and replayed.

The standard-library ``wave`` module does the container; this module pins the
format (16-bit PCM, little-endian samples) and turns its errors into
:class:`BadWaveFile`. Callers read and write the files themselves.
"""

from __future__ import annotations

import io
import sys
import wave
from array import array
from collections.abc import Sequence
from typing import NamedTuple

from .errors import BadWaveFile

__all__ = ["WaveData", "read_wav", "wav_bytes"]


class WaveData(NamedTuple):
    samples: array
    sample_rate: int


def wav_bytes(samples: Sequence[int], sample_rate: int) -> bytes:
    """A complete mono 16-bit PCM WAV file holding ``samples``."""
    pcm = samples if isinstance(samples, array) and samples.typecode == "h" else None
    if pcm is None:
        try:
            pcm = array("h", samples)
        except OverflowError:
            raise BadWaveFile("samples must fit in 16 bits") from None
    if sys.byteorder == "big":
        pcm = array("h", pcm)
        pcm.byteswap()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def read_wav(data: bytes) -> WaveData:
    """Samples and rate of a 16-bit PCM WAV; of a stereo file, the first channel."""
    try:
        with wave.open(io.BytesIO(data), "rb") as src:
            channels, width = src.getnchannels(), src.getsampwidth()
            rate, frames = src.getframerate(), src.readframes(src.getnframes())
    except (wave.Error, EOFError, RuntimeError) as error:  # RuntimeError: a chunk past the end
        why = str(error) or "a chunk runs past the end of the file"
        raise BadWaveFile(f"not a readable WAV file ({why})") from None
    if width != 2 or channels < 1 or rate < 1:
        raise BadWaveFile(f"{8 * width}-bit samples, {channels} channels at {rate} Hz; 16-bit PCM "
                          "is required")
    pcm = array("h")
    pcm.frombytes(frames[: len(frames) - len(frames) % 2])
    if sys.byteorder == "big":
        pcm.byteswap()
    return WaveData(pcm[::channels] if channels > 1 else pcm, rate)
