"""Minimal short command-APDU splitting for secure messaging (package private).

Secure messaging needs the header, the data field and whether an Le byte is present,
nothing more; keeping this here lets the crypto package stand alone. Extended-length
APDUs are rejected: SCP02 and SCP03 as implemented here protect short APDUs only.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.crypto.errors import FormatError

__all__ = [
    "ShortCommand",
    "has_secure_messaging",
    "header_bytes",
    "is_protected_status",
    "mac_cla",
    "plain_cla",
    "secure_messaging_cla",
]


@dataclass(frozen=True)
class ShortCommand:
    """A short command APDU; ``le`` is the raw Le byte (00 means 256) or None."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        header_bytes(self.cla, self.ins, self.p1, self.p2)
        if self.le is not None and not 0 <= self.le <= 0xFF:
            raise FormatError(f"short Le must be one byte, got {self.le}")

    @classmethod
    def parse(cls, apdu: bytes) -> ShortCommand:
        """Split a case 1–4 short APDU; raise :class:`FormatError` on anything else."""
        if len(apdu) < 4:
            raise FormatError(f"a command APDU has at least 4 bytes, got {len(apdu)}")
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0])
        lc = body[0]
        if lc == 0:
            raise FormatError("extended-length APDUs are not supported by secure messaging")
        if len(body) == 1 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:]))
        if len(body) == 2 + lc:
            return cls(cla, ins, p1, p2, bytes(body[1:-1]), body[-1])
        raise FormatError(f"Lc={lc} does not match the {len(body) - 1} bytes that follow it")

    @property
    def header(self) -> bytes:
        """CLA INS P1 P2."""
        return header_bytes(self.cla, self.ins, self.p1, self.p2)

    def encode(self) -> bytes:
        """The APDU bytes; raise :class:`FormatError` if the data does not fit a short APDU."""
        if len(self.data) > 255:
            raise FormatError(f"{len(self.data)} data bytes do not fit a short APDU")
        out = self.header
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le])
        return out


def header_bytes(*fields: int) -> bytes:
    """Header fields as bytes; raise :class:`FormatError` if one does not fit a byte."""
    if not all(0 <= value <= 0xFF for value in fields):
        raise FormatError(f"APDU header fields must be bytes, got {fields}")
    return bytes(fields)


def secure_messaging_cla(cla: int) -> int:
    """CLA as transmitted with GlobalPlatform secure messaging (bit 0x04 set)."""
    _check_first_interindustry(cla)
    return cla | 0x04


def mac_cla(cla: int) -> int:
    """CLA as covered by the C-MAC: channel number zeroed, bit 0x08 clear, bit 0x04 set."""
    _check_first_interindustry(cla)
    return (cla & 0xF0) | 0x04


def plain_cla(cla: int) -> int:
    """CLA with the secure-messaging bits cleared."""
    _check_first_interindustry(cla)
    return cla & ~0x0C


def has_secure_messaging(cla: int) -> bool:
    """True if CLA announces GlobalPlatform (proprietary) secure messaging: bits 0x0C = 01."""
    return not cla & 0x40 and cla & 0x0C == 0x04


def _check_first_interindustry(cla: int) -> None:
    # Bit 0x40 set means the further-interindustry coding (channels 4-19), where the
    # secure-messaging indication sits elsewhere; GlobalPlatform SCPs are not defined there.
    if cla & 0x40:
        raise FormatError(f"CLA {cla:02X} has no GlobalPlatform secure-messaging coding")


def is_protected_status(sw: int) -> bool:
    """True if a response with ``sw`` carries response protection (9000, 62xx, 63xx).

    GlobalPlatform applies no R-MAC or R-ENC to a response with an error status word.
    """
    return sw == 0x9000 or sw >> 8 in (0x62, 0x63)
