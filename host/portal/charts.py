"""Bar charts drawn on the server as SVG: no script, no library, the same figures the table
beside each chart shows (the chart is an image of the table, ``role="img"`` with a title
naming it; screen readers read the table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Bar", "bar_chart"]

_WIDTH, _BAR, _GAP, _LABEL = 360, 22, 10, 130
#: fills with at least 3:1 contrast against the white page (WCAG 1.4.11, graphics)
PALETTE = ("#1f5f99", "#a04a00", "#2e6b30", "#7a3b8f", "#8a6d00", "#005f66")


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    shown: str  #: the value as the table shows it


def bar_chart(title: str, bars: Sequence[Bar]) -> str:
    """An SVG of horizontal bars, one per ``bars`` item, scaled to the largest magnitude."""
    scale = max((abs(b.value) for b in bars), default=0) or 1
    span = _WIDTH - _LABEL - 90
    height = len(bars) * (_BAR + _GAP) + _GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
             f'width="{_WIDTH}" height="{height}" viewBox="0 0 {_WIDTH} {height}">'
             f'<title>{escape(title)}</title>']
    for index, bar in enumerate(bars):
        y = _GAP + index * (_BAR + _GAP)
        width = round(abs(bar.value) * span / scale)
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<text x="{_LABEL - 6}" y="{y + 16}" text-anchor="end" fill="#1a1a1a" '
            f'font-size="13">{escape(bar.label)}</text>'
            f'<rect x="{_LABEL}" y="{y}" width="{width}" height="{_BAR}" fill="{colour}" '
            f'data-value="{bar.value}"/>'
            f'<text x="{_LABEL + width + 6}" y="{y + 16}" fill="#1a1a1a" '
            f'font-size="13">{escape(bar.shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)
