"""Render a swipe waveform as a PNG line plot (time axis in milliseconds).

Each pixel column spans a run of samples and is drawn as a vertical stroke
from their minimum to their maximum (joined to the previous column), so pulses
stay visible however many samples fall into one pixel. Tick labels use a tiny
built-in digit font; there is no dependency on a plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ._png import encode_png
from .errors import BadField

__all__ = ["render_waveform_png"]

Colour = tuple[int, int, int]
_BACKGROUND: Colour = (255, 255, 255)
_AXIS: Colour = (0, 0, 0)
_ZERO_LINE: Colour = (205, 205, 205)
_TRACE: Colour = (31, 90, 180)

_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 16, 24, 12, 34
_TICK = 6
_FONT_SCALE = 2
_TARGET_TICKS = 8
_GLYPHS: dict[str, tuple[str, ...]] = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
    ".": ("000", "000", "000", "000", "010"),
    "-": ("000", "000", "111", "000", "000"),
}


class _Canvas:
    """An RGB raster with the few drawing primitives a line plot needs."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(_BACKGROUND) * (width * height))

    def dot(self, x: int, y: int, colour: Colour) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            offset = 3 * (y * self.width + x)
            self.pixels[offset : offset + 3] = bytes(colour)

    def vline(self, x: int, y0: int, y1: int, colour: Colour) -> None:
        for y in range(min(y0, y1), max(y0, y1) + 1):
            self.dot(x, y, colour)

    def hline(self, y: int, x0: int, x1: int, colour: Colour, dash: int = 0) -> None:
        for x in range(min(x0, x1), max(x0, x1) + 1):
            if not dash or (x // dash) % 2 == 0:
                self.dot(x, y, colour)

    def text(self, x: int, y: int, label: str, colour: Colour) -> None:
        """Draw ``label`` (digits, '.', '-') with its top-left corner at (x, y)."""
        for char in label:
            for row, pattern in enumerate(_GLYPHS[char]):
                for col, on in enumerate(pattern):
                    if on == "1":
                        for dy in range(_FONT_SCALE):
                            for dx in range(_FONT_SCALE):
                                self.dot(x + col * _FONT_SCALE + dx,
                                         y + row * _FONT_SCALE + dy, colour)
            x += 4 * _FONT_SCALE


def _tick_step(span_ms: float) -> float:
    """A 1-2-5 step giving about ``_TARGET_TICKS`` ticks over ``span_ms``."""
    raw = span_ms / _TARGET_TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def _draw_trace(canvas: _Canvas, samples: Sequence[int], box: tuple[int, int, int, int]) -> None:
    left, top, right, bottom = box
    peak = max(1, max(abs(v) for v in samples)) * 1.1
    mid = (top + bottom) / 2
    half = (bottom - top) / 2

    def y_of(value: int) -> int:
        return round(mid - value / peak * half)

    columns = right - left
    previous = samples[0]
    for column in range(columns):
        first = column * len(samples) // columns
        last = max(first + 1, (column + 1) * len(samples) // columns)
        chunk = samples[first:last]
        low, high = min(previous, *chunk), max(previous, *chunk)
        canvas.vline(left + column, y_of(high), y_of(low), _TRACE)
        previous = chunk[-1]


def _draw_axes(
    canvas: _Canvas, box: tuple[int, int, int, int], start_ms: float, span_ms: float
) -> None:
    left, top, right, bottom = box
    canvas.hline((top + bottom) // 2, left, right, _ZERO_LINE, dash=4)
    canvas.vline(left, top, bottom, _AXIS)
    canvas.hline(bottom, left, right, _AXIS)
    step = _tick_step(span_ms)
    decimals = max(0, -math.floor(math.log10(step)))
    tick = math.ceil(start_ms / step) * step
    while tick <= start_ms + span_ms + 1e-9:
        x = left + round((tick - start_ms) / span_ms * (right - left))
        canvas.vline(x, bottom, bottom + _TICK, _AXIS)
        label = f"{tick:.{decimals}f}"
        canvas.text(x - len(label) * 2 * _FONT_SCALE, bottom + _TICK + 4, label, _AXIS)
        tick += step


def render_waveform_png(
    samples: Sequence[int],
    sample_rate: int,
    *,
    width: int = 1200,
    height: int = 300,
    start: int = 0,
    stop: int | None = None,
) -> bytes:
    """PNG bytes plotting ``samples[start:stop]`` against time in milliseconds."""
    stop = len(samples) if stop is None else min(stop, len(samples))
    if not 0 <= start < stop:
        raise BadField("plot window", f"samples {start}..{stop} hold nothing to plot")
    if width < 100 or height < 80 or sample_rate <= 0:
        raise BadField("plot size", "at least 100x80 pixels and a positive sample rate")
    canvas = _Canvas(width, height)
    box = (_MARGIN_LEFT, _MARGIN_TOP, width - _MARGIN_RIGHT, height - _MARGIN_BOTTOM)
    _draw_trace(canvas, samples[start:stop], box)
    _draw_axes(canvas, box, 1000 * start / sample_rate, 1000 * (stop - start) / sample_rate)
    return encode_png(width, height, bytes(canvas.pixels))
