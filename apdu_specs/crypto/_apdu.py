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
    "encode_short",
    "has_secure_messaging",
    "header_bytes",
    "is_protected_status",
    "mac_cla",
    "plain_cla",
    "secure_messaging_cla",
    "split_short",
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
        return cls(*_split(apdu))

    @property
    def header(self) -> bytes:
        """CLA INS P1 P2."""
        return header_bytes(self.cla, self.ins, self.p1, self.p2)

    def encode(self) -> bytes:
        """The APDU bytes; raise :class:`FormatError` if the data does not fit a short APDU."""
        return encode_short(self.cla, self.ins, self.p1, self.p2, self.data, self.le)


ShortFields = tuple[int, int, int, int, bytes, int | None]


def _split(apdu: bytes) -> ShortFields:
    if len(apdu) < 4:
        raise FormatError(f"a command APDU has at least 4 bytes, got {len(apdu)}")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return cla, ins, p1, p2, b"", None
    if len(body) == 1:
        return cla, ins, p1, p2, b"", body[0]
    lc = body[0]
    if lc == 0:
        raise FormatError("extended-length APDUs are not supported by secure messaging")
    if len(body) == 1 + lc:
        return cla, ins, p1, p2, bytes(body[1:]), None
    if len(body) == 2 + lc:
        return cla, ins, p1, p2, bytes(body[1:-1]), body[-1]
    raise FormatError(f"Lc={lc} does not match the {len(body) - 1} bytes that follow it")


def split_short(apdu: bytes) -> ShortFields:
    """What :meth:`ShortCommand.parse` finds, as a tuple ``(cla, ins, p1, p2, data, le)``.

    The secure-messaging hot path: no object is built for a command that is only split
    and joined again. Raises exactly what :meth:`ShortCommand.parse` raises.
    """
    if type(apdu) is bytes:
        return _split(apdu)  # every header byte of a bytes object already fits a byte
    cmd = ShortCommand.parse(apdu)
    return cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, cmd.le


def encode_short(cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
    """The bytes of a short command (what :meth:`ShortCommand.encode` returns)."""
    if len(data) > 255:
        raise FormatError(f"{len(data)} data bytes do not fit a short APDU")
    out = header_bytes(cla, ins, p1, p2)
    if data:
        out += bytes((len(data),)) + data
    if le is not None:
        out += bytes((le,))
    return out


def header_bytes(*fields: int) -> bytes:
    """Header fields as bytes; raise :class:`FormatError` if one does not fit a byte."""
    try:
        return bytes(fields)
    except ValueError:  # an int outside 0..255 (other types raise TypeError, as before)
        raise FormatError(f"APDU header fields must be bytes, got {fields}") from None


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
