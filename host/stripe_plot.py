"""Plot a swipe waveform as a PNG line plot (time axis in milliseconds).

Plotting is a host tool, not protocol: it needs matplotlib, the optional extra
``dualcard[plot]``, imported on first use so that nothing else depends on it. The figure
is drawn by the Agg backend without pyplot, so no global state or display is involved.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from apdu_specs.errors import LocalError
from apdu_specs.magstripe.errors import BadField

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PlotUnavailableError", "render_waveform_png"]

_DPI = 100
_TRACE = "#1f5ab4"
_ZERO_LINE = "#cdcdcd"


class PlotUnavailableError(LocalError):
    """matplotlib, which plots need, is not installed."""


def _agg_figure(width: int, height: int) -> Figure:
    """A figure of ``width`` x ``height`` pixels on the Agg canvas; typed error without it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailableError(
            "plotting needs matplotlib: pip install 'dualcard[plot]'") from None
    figure = Figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
    FigureCanvasAgg(figure)
    return figure


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
    figure = _agg_figure(width, height)
    axes = figure.add_subplot()
    times = [1000 * index / sample_rate for index in range(start, stop)]
    axes.axhline(0, color=_ZERO_LINE, linewidth=0.8, linestyle="--")
    axes.plot(times, samples[start:stop], color=_TRACE, linewidth=0.8)
    axes.set_xlim(1000 * start / sample_rate, 1000 * stop / sample_rate)
    axes.set_xlabel("time (ms)")
    axes.set_yticks([])
    figure.tight_layout(pad=0.3)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
