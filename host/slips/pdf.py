"""A slip as a PDF page (reportlab), with a CJK font that needs no download.

The font is Debian's WenQuanYi Zen Hei Mono (``fonts-wqy-zenhei``; monospaced, so the
columns line up as on a receipt printer) embedded as a TrueType subset when the file is
there; otherwise reportlab's built-in CID font STSong-Light, which
embeds nothing (a PDF viewer supplies the glyphs). The page is as wide as receipt paper
(80 mm) and as long as the slip.
"""

from __future__ import annotations

import io
from pathlib import Path

from .model import Align, Line, Slip, SlipError, layout

__all__ = ["WQY_ZENHEI", "encode_pdf", "font_name"]

WQY_ZENHEI = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
_MM = 72 / 25.4
_PAGE_WIDTH = 80 * _MM
_MARGIN = 4 * _MM
_LEADING = 1.35


def _size(width: int) -> float:
    """The font size that fits ``width`` half-width columns across the paper."""
    return 2 * (_PAGE_WIDTH - 2 * _MARGIN) / width


def font_name(prefer_file: Path = WQY_ZENHEI) -> str:
    """Register the CJK font once; its name for reportlab."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    if prefer_file.is_file():
        name = "WenQuanYiZenHeiMono"
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(prefer_file), subfontIndex=1))
        return name
    name = "STSong-Light"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(name))
    return name


def _draw(canvas: object, line: Line, y: float, font: str, width: int) -> float:
    size = _size(width) * (2 if line.large else 1)
    canvas.setFont(font, size)  # type: ignore[attr-defined]
    if line.bold:  # a CJK font has no bold face: stroke the glyphs
        canvas.setLineWidth(0.25)  # type: ignore[attr-defined]
    y -= size * _LEADING
    text = canvas.beginText()  # type: ignore[attr-defined]
    text.setTextRenderMode(2 if line.bold else 0)
    text.setFont(font, size)
    usable = _PAGE_WIDTH - 2 * _MARGIN
    drawn = canvas.stringWidth(line.text, font, size)  # type: ignore[attr-defined]
    x = {Align.LEFT: _MARGIN, Align.CENTER: (_PAGE_WIDTH - drawn) / 2,
         Align.RIGHT: _PAGE_WIDTH - _MARGIN - drawn}[line.align]
    text.setTextOrigin(max(_MARGIN, x) if drawn <= usable else _MARGIN, y)
    text.textOut(line.text)
    canvas.drawText(text)  # type: ignore[attr-defined]
    return y


def encode_pdf(slip: Slip, width: int = 48, *, font_file: Path = WQY_ZENHEI) -> bytes:
    """The slip as a one-page PDF, lines as :func:`~host.slips.model.layout` gives them."""
    try:
        from reportlab.pdfgen.canvas import Canvas
    except ImportError:
        raise SlipError("PDF slips need reportlab: install dualcard[print]") from None

    font = font_name(font_file)
    lines = layout(slip, width)
    height = 2 * _MARGIN + sum(_size(width) * (2 if ln.large else 1) * _LEADING for ln in lines)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(_PAGE_WIDTH, height), invariant=1)
    canvas.setTitle(f"{slip.kind.value} {slip.order_id}")
    canvas.setAuthor(slip.merchant)
    y = height - _MARGIN
    for line in lines:
        y = _draw(canvas, line, y, font, width)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
