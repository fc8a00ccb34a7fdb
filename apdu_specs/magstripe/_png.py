"""Minimal PNG encoder (8-bit RGB, no interlace): enough for plots without a plotting library."""

from __future__ import annotations

import struct
import zlib

__all__ = ["encode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB_8BIT = (8, 2, 0, 0, 0)  # bit depth, colour type RGB, deflate, adaptive filters, no interlace


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """PNG file bytes for ``rgb`` (``height`` rows of ``width`` RGB triples, top row first)."""
    stride = 3 * width
    if len(rgb) != stride * height:
        raise ValueError(f"{len(rgb)} bytes of pixels for a {width}x{height} RGB image")
    raw = b"".join(b"\x00" + rgb[row * stride : (row + 1) * stride] for row in range(height))
    header = struct.pack(">II5B", width, height, *_RGB_8BIT)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )
