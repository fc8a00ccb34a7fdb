"""ESC/POS bytes for a slip, and a decoder that shows them as text.

The encoder knows the handful of commands a slip uses (Epson ESC/POS, as Chinese
receipt printers implement it): ``ESC @`` initialise, ``FS &`` Chinese character mode
(two-byte text in GB18030), ``ESC a`` alignment, ``ESC E`` emphasis, ``GS !`` double
size, ``LF``, and ``GS V 66 n`` feed and partial cut. docs/decisions.md says why this is
not python-escpos.
"""

from __future__ import annotations

from .model import Line, Slip, SlipError, layout

__all__ = ["CUT", "INIT", "decode_escpos", "encode_escpos"]

ESC, GS, FS, LF = 0x1B, 0x1D, 0x1C, 0x0A
INIT = bytes([ESC, 0x40])
CHINESE_MODE = bytes([FS, 0x26])
CUT = bytes([GS, 0x56, 66, 3])
ENCODING = "gb18030"


def _line(line: Line) -> bytes:
    try:
        text = line.text.encode(ENCODING)
    except UnicodeEncodeError as exc:
        raise SlipError(f"{line.text!r} cannot be printed in GB18030: {exc.reason}") from None
    out = bytes([ESC, 0x61, line.align.value])
    if line.bold:
        out += bytes([ESC, 0x45, 1])
    if line.large:
        out += bytes([GS, 0x21, 0x11])
    out += text + bytes([LF])
    if line.large:
        out += bytes([GS, 0x21, 0x00])
    if line.bold:
        out += bytes([ESC, 0x45, 0])
    return out


def encode_escpos(slip: Slip, width: int = 48) -> bytes:
    """The slip for a receipt printer ``width`` columns wide (48: 80 mm paper, font A)."""
    body = b"".join(_line(line) for line in layout(slip, width))
    return INIT + CHINESE_MODE + body + bytes([LF, LF]) + CUT


_ARGUMENTS = {(ESC, 0x40): 0, (FS, 0x26): 0, (ESC, 0x61): 1, (ESC, 0x45): 1, (GS, 0x21): 1,
              (GS, 0x56): 2}
_NAMES = {(ESC, 0x40): "init", (FS, 0x26): "chinese", (ESC, 0x61): "align",
          (ESC, 0x45): "bold", (GS, 0x21): "size", (GS, 0x56): "cut"}


def decode_escpos(data: bytes) -> list[str]:
    """The printed text, one entry per line, with ``[command n]`` marks for the commands:
    what a reader sees of a slip without a printer."""
    out, text, i = [], bytearray(), 0
    while i < len(data):
        key = (data[i], data[i + 1]) if i + 1 < len(data) else (data[i], -1)
        if key in _ARGUMENTS:
            n = _ARGUMENTS[key]
            args = " ".join(str(b) for b in data[i + 2:i + 2 + n])
            out_mark = f"[{_NAMES[key]}{' ' + args if args else ''}]"
            text += out_mark.encode(ENCODING)
            i += 2 + n
        elif data[i] == LF:
            out.append(text.decode(ENCODING, errors="replace"))
            text.clear()
            i += 1
        else:
            text.append(data[i])
            i += 1
    if text:
        out.append(text.decode(ENCODING, errors="replace"))
    return out
