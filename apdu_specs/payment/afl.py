"""Application file locator (tag 94): which records the terminal reads (EMV Book 3 §10.2).

Each 4-byte entry: ``SFI << 3``, first record, last record, and how many of those
records (from the first) take part in offline data authentication.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .errors import PaymentFormatError

__all__ = ["AFLEntry", "decode_afl", "encode_afl"]


@dataclass(frozen=True)
class AFLEntry:
    sfi: int
    first: int
    last: int
    oda_records: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.sfi <= 30:
            raise PaymentFormatError(f"AFL SFI {self.sfi} is outside 1..30")
        if not 1 <= self.first <= self.last <= 0xFF:
            raise PaymentFormatError(f"AFL records {self.first}..{self.last} are not 1 <= first <= last")
        if not 0 <= self.oda_records <= self.last - self.first + 1:
            raise PaymentFormatError("AFL counts more ODA records than it names")

    def records(self) -> Iterator[int]:
        return iter(range(self.first, self.last + 1))

    def encode(self) -> bytes:
        return bytes((self.sfi << 3, self.first, self.last, self.oda_records))


def decode_afl(data: bytes) -> list[AFLEntry]:
    data = bytes(data)
    if len(data) % 4:
        raise PaymentFormatError(f"an AFL is a multiple of 4 bytes, got {len(data)}")
    out = []
    for i in range(0, len(data), 4):
        sfi_byte, first, last, oda = data[i:i + 4]
        if sfi_byte & 0x07:
            raise PaymentFormatError(f"AFL byte {sfi_byte:02X} has its low 3 bits set")
        out.append(AFLEntry(sfi_byte >> 3, first, last, oda))
    return out


def encode_afl(entries: Sequence[AFLEntry]) -> bytes:
    return b"".join(e.encode() for e in entries)
