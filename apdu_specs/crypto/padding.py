"""ISO/IEC 9797-1 padding methods 1 and 2.

Method 1 appends zero bytes up to a block boundary (an empty message becomes one zero
block, as ISO/IEC 9797-1 requires). Method 2 always appends ``80`` and then zeros; it is
the padding of GlobalPlatform secure messaging, of EMV cryptograms by default and of
the PBOC purse MACs. Only method 2 can be removed unambiguously, so only it has an
unpad function, and that function is strict: a wrong padding is a typed error rather
than silently truncated data.
"""

from __future__ import annotations

from enum import IntEnum

from apdu_specs.crypto.errors import PaddingError

__all__ = ["Padding", "pad", "pad_method1", "pad_method2", "unpad_method2"]


class Padding(IntEnum):
    """ISO/IEC 9797-1 padding method number."""

    METHOD_1 = 1
    METHOD_2 = 2


def pad_method1(data: bytes, block_size: int) -> bytes:
    """Append zeros up to a multiple of ``block_size`` (one zero block if ``data`` is empty)."""
    if not data:
        return bytes(block_size)
    return data + bytes(-len(data) % block_size)


def pad_method2(data: bytes, block_size: int) -> bytes:
    """Append ``80`` and then zeros up to a multiple of ``block_size``."""
    return data + b"\x80" + bytes(-(len(data) + 1) % block_size)


def pad(data: bytes, block_size: int, method: Padding = Padding.METHOD_2) -> bytes:
    """Pad ``data`` with the given ISO/IEC 9797-1 method."""
    if method is Padding.METHOD_1:
        return pad_method1(data, block_size)
    return pad_method2(data, block_size)


def unpad_method2(data: bytes, block_size: int) -> bytes:
    """Remove method 2 padding; raise :class:`PaddingError` if it is not exactly right."""
    if not data or len(data) % block_size:
        raise PaddingError(
            f"padded data must be a non-empty multiple of {block_size} bytes, "
            f"got {len(data)} bytes"
        )
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= block_size:
        raise PaddingError("data does not end with ISO/IEC 9797-1 method 2 padding")
    return stripped[:-1]
