"""Issuer application data (tag 9F10): which keys and method made the cryptogram, and the CVR.

Layout: ``06`` (length of what follows) ‖ derivation key index (1) ‖ cryptogram
version number (1) ‖ CVR (4). The issuer reads the CVN to pick the verification
method and the DKI to pick the issuer master key generation.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.caches import pure_cache

from .cvr import CVR, CVR_LENGTH
from .errors import PaymentFormatError

__all__ = ["IAD_LENGTH", "IssuerApplicationData"]

IAD_LENGTH = 3 + CVR_LENGTH


@dataclass(frozen=True)
class IssuerApplicationData:
    dki: int
    cvn: int
    cvr: CVR

    def __post_init__(self) -> None:
        for name in ("dki", "cvn"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise PaymentFormatError(f"{name.upper()} must be a byte, got {value}")

    def encode(self) -> bytes:
        return bytes((IAD_LENGTH - 1, self.dki, self.cvn)) + self.cvr.encode()

    @classmethod
    def decode(cls, data: bytes) -> IssuerApplicationData:
        """The IAD ``data`` encodes (kept for the last few values seen: the cards of one
        issuer send the same few, and the issuer decodes one per authorisation)."""
        return _decoded(bytes(data))


@pure_cache(maxsize=256)
def _decoded(data: bytes) -> IssuerApplicationData:
    if len(data) != IAD_LENGTH or data[0] != IAD_LENGTH - 1:
        raise PaymentFormatError(f"issuer application data must be {IAD_LENGTH} bytes "
                                 f"starting 06, got {data.hex().upper()}")
    return IssuerApplicationData(data[1], data[2], CVR.decode(data[3:]))
