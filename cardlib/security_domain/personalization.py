"""STORE DATA after INSTALL [for personalization]: blocks in, whole DGIs out.

The host names the application with INSTALL [for personalization]; the following
STORE DATA blocks (P2 = 00, 01, … in order; P1 b8 marks the last) carry DGIs that the
ISD hands to that application's ``personalize(dgi, data)``. A DGI may straddle blocks
(a long one is cut where a command is full): the incomplete tail is kept for the next
block. Whether a DGI is encrypted (P1 b7–b6 = 11) is taken from the block that carries
its header; a block of the other kind arriving before the DGI is complete is refused.

P1 (GPC 2.3 §11.11.2.1): b8 last block; b7–b6 encryption (00 none, 01 application
dependent, 11 encrypted under the DEK); b5–b4 structure (00 none, 01 DGI, 10 BER-TLV).
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.caches import pure_cache
from apdu_specs.commands.gp_extra import split_dgis
from apdu_specs.sw import SW, SWError

__all__ = ["Encryption", "StoreDataControl", "StoreDataSession", "Structure"]


class Encryption:
    NONE = 0b00
    APPLICATION = 0b01
    ENCRYPTED = 0b11


class Structure:
    NONE = 0b00
    DGI = 0b01
    BER_TLV = 0b10


@dataclass(frozen=True)
class StoreDataControl:
    """STORE DATA P1, decoded."""

    last: bool
    encryption: int
    structure: int

    @classmethod
    def parse(cls, p1: int) -> StoreDataControl:
        if cls is StoreDataControl and type(p1) is int:
            return _control_of(p1)
        return cls._decode(p1)

    @classmethod
    def _decode(cls, p1: int) -> StoreDataControl:
        encryption = (p1 >> 5) & 0x03
        structure = (p1 >> 3) & 0x03
        if encryption == 0b10 or structure == 0b11:
            raise SWError(SW.INCORRECT_P1P2, f"STORE DATA P1 {p1:02X} uses reserved values")
        return cls(bool(p1 & 0x80), encryption, structure)

    @property
    def encrypted(self) -> bool:
        return self.encryption == Encryption.ENCRYPTED


@pure_cache(maxsize=256)
def _control_of(p1: int) -> StoreDataControl:
    """P1 decoded once per value (the frozen answer is shared)."""
    return StoreDataControl._decode(p1)


@dataclass
class StoreDataSession:
    """Progress of one personalisation run on one logical channel."""

    target: bytes
    next_block: int = 0
    buffer: bytes = b""
    buffer_encrypted: bool = False
    finished: bool = False

    def feed(self, control: StoreDataControl, block: int, data: bytes
             ) -> list[tuple[int, bytes, bool]]:
        """The DGIs this block completes, as ``(dgi, value, encrypted)``."""
        if self.finished:
            raise SWError(SW.CONDITIONS_NOT_SATISFIED, "last STORE DATA block already received")
        if block != self.next_block:
            raise SWError(SW.INCORRECT_P1P2,
                          f"STORE DATA block {block:02X}, expected {self.next_block:02X}")
        if self.buffer and self.buffer_encrypted != control.encrypted:
            raise SWError(SW.WRONG_DATA, "a DGI continues in a block of the other encryption")
        if not self.buffer:
            self.buffer_encrypted = control.encrypted
        dgis, rest = split_dgis(self.buffer + bytes(data))
        if control.last and rest:
            raise SWError(SW.WRONG_DATA, f"last block ends inside a DGI ({len(rest)} bytes left)")
        encrypted = self.buffer_encrypted
        self.buffer = rest
        self.next_block = (block + 1) & 0xFF
        self.finished = control.last
        return [(dgi, value, encrypted) for dgi, value in dgis]
