"""Bar charts drawn on the server as SVG: no script, no library, the same figures the table
beside each chart shows (the chart is an image of the table, ``role="img"`` with a title
naming it; screen readers read the table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Bar", "bar_chart"]

_BAR, _GAP, _SPAN = 22, 10, 200
#: what a label's character is given, in pixels (13 px text; CJK characters are wider)
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
    label = 12 + max((_text_width(b.label) for b in bars), default=0)
    width = label + _SPAN + 12 + max((_text_width(b.shown) for b in bars), default=0)
    height = len(bars) * (_BAR + _GAP) + _GAP
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
             f'<title>{escape(title)}</title>']
    for index, bar in enumerate(bars):
        y = _GAP + index * (_BAR + _GAP)
        length = round(abs(bar.value) * _SPAN / scale)
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<text x="{label - 6}" y="{y + 16}" text-anchor="end" fill="#1a1a1a" '
            f'font-size="13">{escape(bar.label)}</text>'
            f'<rect x="{label}" y="{y}" width="{length}" height="{_BAR}" fill="{colour}" '
            f'data-value="{bar.value}"/>'
            f'<text x="{label + length + 6}" y="{y + 16}" fill="#1a1a1a" '
            f'font-size="13">{escape(bar.shown)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _text_width(text: str) -> int:
    """About how wide ``text`` is drawn (no font metrics on the server: a generous guess)."""
    return sum(14 if ord(c) > 0x2E80 else 8 for c in text)
