"""Track character sets and physical parameters (ISO/IEC 7811-2, 7813, 4909).

A track records fixed-width characters: track 1 uses 6 data bits (ASCII 0x20-0x5F),
tracks 2 and 3 use 4 data bits (ASCII 0x30-0x3F); each character carries one odd
parity bit. The LRC is computed on character codes, so it lives here rather than
with the bit coder: a track string can be checked without ever producing bits.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import BadCharacter

__all__ = ["TRACK1", "TRACK2", "TRACK3", "TrackFormat"]


@dataclass(frozen=True)
class TrackFormat:
    """How one track encodes characters, and how densely it is recorded."""

    number: int
    data_bits: int
    base: int
    start_sentinel: str
    end_sentinel: str
    field_separator: str
    max_chars: int
    """Limit on recorded characters, including both sentinels and the LRC."""
    density_bpi: int

    @property
    def name(self) -> str:
        return f"track {self.number}"

    def code_of(self, char: str, position: int = 0) -> int:
        """The data-bit value of ``char``; :class:`BadCharacter` outside the set."""
        code = ord(char) - self.base if len(char) == 1 else -1
        if not 0 <= code < (1 << self.data_bits):
            raise BadCharacter(char, position, f"{self.name} character set")
        return code

    def char_of(self, code: int) -> str:
        """The character recorded as data-bit value ``code``."""
        return chr(self.base + (code & ((1 << self.data_bits) - 1)))

    def allows(self, char: str) -> bool:
        return len(char) == 1 and 0 <= ord(char) - self.base < (1 << self.data_bits)

    def lrc(self, text: str) -> str:
        """LRC character over ``text`` (start sentinel through end sentinel inclusive).

        The LRC is the XOR of the data bits of every character; its parity bit is
        computed on the LRC itself when it is recorded, not as a column XOR.
        """
        base, limit = self.base, 1 << self.data_bits
        total = 0
        for i, c in enumerate(text):
            code = ord(c) - base
            if not 0 <= code < limit:
                self.code_of(c, i)  # raises BadCharacter naming it
            total ^= code
        return self.char_of(total)


TRACK1 = TrackFormat(
    number=1, data_bits=6, base=0x20, start_sentinel="%", end_sentinel="?",
    field_separator="^", max_chars=79, density_bpi=210,
)
TRACK2 = TrackFormat(
    number=2, data_bits=4, base=0x30, start_sentinel=";", end_sentinel="?",
    field_separator="=", max_chars=40, density_bpi=75,
)
TRACK3 = TrackFormat(
    number=3, data_bits=4, base=0x30, start_sentinel=";", end_sentinel="?",
    field_separator="=", max_chars=107, density_bpi=210,
)
