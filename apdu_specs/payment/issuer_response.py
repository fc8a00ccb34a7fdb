"""What the issuer sends back to the card: the ARC, the CSU and issuer authentication data (91).

- ARPC method 1 (EMV Book 2 §8.2.1): tag 91 is ``ARPC(8) ‖ ARC(2)``.
- ARPC method 2 (§8.2.2): tag 91 is ``ARPC(4) ‖ CSU(4) ‖ proprietary data(0–8)``.

The authorisation response code (8A, two ASCII characters) says approve / decline /
referral; ``Y3``/``Z3`` are the terminal's own codes for "could not go online".
The card status update (CSU) is dualcard's layout modelled on common practice:

byte 1: b8 proprietary authentication data included · b4-1 PIN try counter value to
set when byte 2 b5 is set (0: the try limit).
byte 2: b8 issuer approves · b6 block the application · b5 update the PIN try
counter · b4 go online on the next transaction · b1 reset the offline counters.
bytes 3–4: reserved (00).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import PaymentFormatError

__all__ = [
    "ARC",
    "ARPC1_LENGTH",
    "ARPC2_LENGTH",
    "CSU_LENGTH",
    "ARPCMethod",
    "CardStatusUpdate",
    "IssuerAuthenticationData",
]

ARPC1_LENGTH = 8
ARPC2_LENGTH = 4
CSU_LENGTH = 4
ARC_LENGTH = 2


class ARPCMethod(Enum):
    METHOD_1 = 1
    METHOD_2 = 2

    @property
    def data_length(self) -> int:
        """Length of tag 91 without proprietary data (the CDOL2 entry of the card)."""
        return ARPC1_LENGTH + ARC_LENGTH if self is ARPCMethod.METHOD_1 else ARPC2_LENGTH + CSU_LENGTH


class ARC:
    """Authorisation response codes (tag 8A, EMV Book 4 Annex A6 and ISO 8583 practice)."""

    APPROVED = b"00"
    REFERRAL = b"01"
    DECLINED = b"05"
    INSUFFICIENT_FUNDS = b"51"
    OFFLINE_APPROVED = b"Y3"  #: terminal: unable to go online, approved offline
    OFFLINE_DECLINED = b"Z3"  #: terminal: unable to go online, declined offline
    _APPROVING = frozenset({b"00", b"08", b"10", b"11"})
    _UNABLE_ONLINE = frozenset({b"Y3", b"Z3"})

    @classmethod
    def approves(cls, arc: bytes) -> bool:
        return bytes(arc) in cls._APPROVING

    @classmethod
    def unable_to_go_online(cls, arc: bytes) -> bool:
        return bytes(arc) in cls._UNABLE_ONLINE


@dataclass(frozen=True)
class CardStatusUpdate:
    approved: bool = False
    block_application: bool = False
    update_pin_try_counter: bool = False
    pin_try_counter: int = 0
    go_online_next: bool = False
    reset_offline_counters: bool = False
    proprietary_data_included: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.pin_try_counter <= 15:
            raise PaymentFormatError("the CSU PIN try counter value is 0..15")

    def encode(self) -> bytes:
        byte1 = 0x80 * self.proprietary_data_included | self.pin_try_counter
        byte2 = (0x80 * self.approved | 0x20 * self.block_application
                 | 0x10 * self.update_pin_try_counter | 0x08 * self.go_online_next
                 | 0x01 * self.reset_offline_counters)
        return bytes((byte1, byte2, 0, 0))

    @classmethod
    def decode(cls, data: bytes) -> CardStatusUpdate:
        if len(data) != CSU_LENGTH:
            raise PaymentFormatError(f"a CSU has {CSU_LENGTH} bytes, got {len(data)}")
        b1, b2 = data[0], data[1]
        return cls(approved=bool(b2 & 0x80), block_application=bool(b2 & 0x20),
                   update_pin_try_counter=bool(b2 & 0x10), pin_try_counter=b1 & 0x0F,
                   go_online_next=bool(b2 & 0x08), reset_offline_counters=bool(b2 & 0x01),
                   proprietary_data_included=bool(b1 & 0x80))


@dataclass(frozen=True)
class IssuerAuthenticationData:
    """Tag 91 in either method's layout.

    ``csu_bytes`` are the CSU's four bytes exactly as received (or as encoded, when the
    issuer builds the data); ``csu`` is only their meaning. The ARPC covers the bytes:
    a CSU bit this layout does not define (byte 1 b7-b5, byte 2 b7, b3, b2, bytes 3-4)
    is MAC-checked as it came, never re-encoded away (:attr:`authenticated`).
    """

    method: ARPCMethod
    arpc: bytes
    arc: bytes = b""
    csu: CardStatusUpdate | None = None
    proprietary: bytes = b""
    csu_bytes: bytes = b""

    def __post_init__(self) -> None:
        if self.method is ARPCMethod.METHOD_1:
            if len(self.arpc) != ARPC1_LENGTH or len(self.arc) != ARC_LENGTH:
                raise PaymentFormatError("method 1 needs an 8-byte ARPC and a 2-byte ARC")
            return
        if len(self.arpc) != ARPC2_LENGTH or self.csu is None or len(self.proprietary) > 8:
            raise PaymentFormatError("method 2 needs a 4-byte ARPC, a CSU and at most 8 "
                                     "bytes of proprietary data")
        if not self.csu_bytes:
            object.__setattr__(self, "csu_bytes", self.csu.encode())
        elif CardStatusUpdate.decode(self.csu_bytes) != self.csu:
            raise PaymentFormatError("the CSU bytes do not say what the CSU says")

    @property
    def authenticated(self) -> bytes:
        """What the ARPC answers besides the ARQC, as received: the ARC (method 1) or
        CSU ‖ proprietary data (method 2)."""
        if self.method is ARPCMethod.METHOD_1:
            return self.arc
        return self.csu_bytes + self.proprietary

    def encode(self) -> bytes:
        return self.arpc + self.authenticated

    @classmethod
    def decode(cls, data: bytes, method: ARPCMethod) -> IssuerAuthenticationData:
        data = bytes(data)
        if method is ARPCMethod.METHOD_1:
            if len(data) != ARPC1_LENGTH + ARC_LENGTH:
                raise PaymentFormatError(f"method 1 issuer authentication data is 10 bytes, "
                                         f"got {len(data)}")
            return cls(method, data[:8], arc=data[8:])
        if not ARPC2_LENGTH + CSU_LENGTH <= len(data) <= ARPC2_LENGTH + CSU_LENGTH + 8:
            raise PaymentFormatError(f"method 2 issuer authentication data is 8..16 bytes, "
                                     f"got {len(data)}")
        return cls(method, data[:4], csu=CardStatusUpdate.decode(data[4:8]),
                   proprietary=data[8:], csu_bytes=data[4:8])
