"""A minimal chip for exercising the vpcd bridge and the PC/SC stack.

It has no applets and no persistent state; it exists so the transport layer
(framing, bridge, pcscd, GET RESPONSE and Le handling) can be tested and
benchmarked on its own. Commands it knows:

- SELECT (INS A4), any P1/P2 and data: ``9000``.
- READ BINARY (INS B0) of a 256-byte file at offset P1P2: with response
  chaining on, it answers ``61xx`` and hands the data out through GET RESPONSE
  (INS C0), as a T=0 card would; with chaining off it answers directly.
  Asking for more than the rest of the file gives ``6Cxx``.
- GET DATA (INS CA): an 8-byte object; any Le other than 8 gives ``6C08``.
- Anything else: ``6D00`` (``6E00`` for CLA FF).
"""

from __future__ import annotations

__all__ = ["TOY_ATR", "TOY_FILE", "TOY_OBJECT", "ToyChip", "toy_atr"]


def toy_atr(tag: int = 0) -> bytes:
    """A well-formed ATR: direct convention, T=1, historical bytes "TOYCHIP" + ``tag``.

    ``tag`` tells several toy chips apart; the check byte TCK is computed.
    """
    body = bytes((0x88, 0x80, 0x01)) + b"TOYCHIP" + bytes((tag & 0xFF,))
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes((tck,))


TOY_ATR = toy_atr()
TOY_FILE = bytes(range(256))
TOY_OBJECT = bytes.fromhex("0102030405060708")

_OK = b"\x90\x00"


def _sw(sw1: int, sw2: int) -> bytes:
    return bytes((sw1, sw2))


class ToyChip:
    """Implements :class:`simulator.chip_protocol.ChipLike` with a tiny command set."""

    def __init__(self, *, atr: bytes = TOY_ATR, response_chaining: bool = True) -> None:
        self._atr = bytes(atr)
        self.response_chaining = response_chaining
        self.powered = False
        self.power_ups = 0
        self.resets = 0
        self._pending = b""

    @property
    def atr(self) -> bytes:
        return self._atr

    def power_on(self) -> bytes:
        self.powered = True
        self.power_ups += 1
        self._pending = b""
        return self._atr

    def power_off(self) -> None:
        self.powered = False
        self._pending = b""

    def reset(self) -> bytes:
        self.powered = True
        self.resets += 1
        self._pending = b""
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return _sw(0x67, 0x00)
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        if cla == 0xFF:
            return _sw(0x6E, 0x00)
        if ins != 0xC0:
            self._pending = b""
        if ins == 0xA4:
            return _OK
        le = _short_le(apdu)
        if ins == 0xB0:
            return self._read_binary((p1 << 8) | p2, le)
        if ins == 0xC0:
            return self._get_response(le)
        if ins == 0xCA:
            if le != len(TOY_OBJECT):
                return _sw(0x6C, len(TOY_OBJECT))
            return TOY_OBJECT + _OK
        return _sw(0x6D, 0x00)

    def _read_binary(self, offset: int, le: int | None) -> bytes:
        if offset >= len(TOY_FILE):
            return _sw(0x6B, 0x00)
        rest = TOY_FILE[offset:]
        wanted = 256 if le in (None, 0) else le
        if wanted > len(rest):
            return _sw(0x6C, len(rest) & 0xFF)
        data = rest[:wanted]
        if not self.response_chaining:
            return data + _OK
        self._pending = data
        return _sw(0x61, len(data) & 0xFF)

    def _get_response(self, le: int | None) -> bytes:
        if not self._pending:
            return _sw(0x69, 0x85)
        wanted = 256 if le in (None, 0) else le
        chunk, self._pending = self._pending[:wanted], self._pending[wanted:]
        if self._pending:
            return chunk + _sw(0x61, len(self._pending) & 0xFF)
        return chunk + _OK


def _short_le(apdu: bytes) -> int | None:
    """Le of a short case-2 or case-4 APDU, None when the command carries none."""
    if len(apdu) == 5:
        return apdu[4]
    if len(apdu) > 5 and len(apdu) == 5 + apdu[4] + 1:
        return apdu[-1]
    return None
