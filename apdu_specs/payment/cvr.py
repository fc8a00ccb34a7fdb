"""Card verification results (CVR): why the card chose its cryptogram, inside 9F10.

The layout (4 bytes, the first being its own length 03) is modelled on the common
issuer application data framing of EMV cards; the bit assignments are dualcard's
and are documented in ``docs/payment.md``:

byte 2: b8-7 2nd GENERATE AC type (00 AAC, 01 TC, 10 not requested) · b6-5 1st
GENERATE AC type (00 AAC, 01 TC, 10 ARQC) · b4 issuer authentication performed and
failed · b3 offline PIN verification performed · b2 offline PIN verification failed
· b1 unable to go online.

byte 3: b8 last online transaction not completed · b7 PIN try limit exceeded · b6
velocity (consecutive offline count) exceeded · b5 new card (never approved online)
· b4 issuer authentication failed on the last online transaction · b3 issuer
authentication not performed after the last online authorisation.

byte 4: b8-5 issuer script commands processed in the last transaction · b4 issuer
script processing failed in the last transaction · b1 application blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .ac_type import ACType
from .errors import PaymentFormatError

__all__ = ["CVR", "CVR_LENGTH", "CardHistory"]

CVR_LENGTH = 4
_NOT_REQUESTED = 0b10


@dataclass(frozen=True)
class CardHistory:
    """The persistent part of the CVR (byte 3 and byte 4), carried from earlier transactions."""

    last_online_incomplete: bool = False
    pin_try_limit_exceeded: bool = False
    velocity_exceeded: bool = False
    new_card: bool = False
    issuer_auth_failed_last: bool = False
    issuer_auth_not_performed_last: bool = False
    scripts_processed: int = 0
    script_failed: bool = False
    application_blocked: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.scripts_processed <= 15:
            raise PaymentFormatError("the CVR counts 0..15 issuer script commands")

    def byte3(self) -> int:
        return (0x80 * self.last_online_incomplete | 0x40 * self.pin_try_limit_exceeded
                | 0x20 * self.velocity_exceeded | 0x10 * self.new_card
                | 0x08 * self.issuer_auth_failed_last
                | 0x04 * self.issuer_auth_not_performed_last)

    def byte4(self) -> int:
        return (self.scripts_processed << 4 | 0x08 * self.script_failed
                | 0x01 * self.application_blocked)


@dataclass(frozen=True)
class CVR:
    """Card verification results of one GENERATE AC."""

    first_ac: ACType
    second_ac: ACType | None = None
    issuer_auth_failed: bool = False
    pin_verified: bool = False
    pin_failed: bool = False
    unable_to_go_online: bool = False
    history: CardHistory = CardHistory()

    def __post_init__(self) -> None:
        if self.second_ac is ACType.ARQC:
            raise PaymentFormatError("a second GENERATE AC never answers ARQC")

    def with_second(self, second: ACType, *, issuer_auth_failed: bool,
                    unable_to_go_online: bool) -> CVR:
        return replace(self, second_ac=second, issuer_auth_failed=issuer_auth_failed,
                       unable_to_go_online=unable_to_go_online)

    def encode(self) -> bytes:
        second = _NOT_REQUESTED if self.second_ac is None else self.second_ac.code
        byte2 = (second << 6 | self.first_ac.code << 4 | 0x08 * self.issuer_auth_failed
                 | 0x04 * self.pin_verified | 0x02 * self.pin_failed
                 | 0x01 * self.unable_to_go_online)
        return bytes((CVR_LENGTH - 1, byte2, self.history.byte3(), self.history.byte4()))

    @classmethod
    def decode(cls, data: bytes) -> CVR:
        if len(data) != CVR_LENGTH or data[0] != CVR_LENGTH - 1:
            raise PaymentFormatError(f"a CVR is 03 followed by 3 bytes, got {bytes(data).hex()}")
        b2, b3, b4 = data[1], data[2], data[3]
        second_code = b2 >> 6
        if second_code == 0b11:
            raise PaymentFormatError("CVR second cryptogram type 11 is reserved")
        history = CardHistory(
            last_online_incomplete=bool(b3 & 0x80), pin_try_limit_exceeded=bool(b3 & 0x40),
            velocity_exceeded=bool(b3 & 0x20), new_card=bool(b3 & 0x10),
            issuer_auth_failed_last=bool(b3 & 0x08),
            issuer_auth_not_performed_last=bool(b3 & 0x04),
            scripts_processed=b4 >> 4, script_failed=bool(b4 & 0x08),
            application_blocked=bool(b4 & 0x01))
        return cls(
            first_ac=ACType.from_code((b2 >> 4) & 0x03),
            second_ac=None if second_code == _NOT_REQUESTED else ACType.from_code(second_code),
            issuer_auth_failed=bool(b2 & 0x08), pin_verified=bool(b2 & 0x04),
            pin_failed=bool(b2 & 0x02), unable_to_go_online=bool(b2 & 0x01), history=history)
