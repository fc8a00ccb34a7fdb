"""ISO/IEC 7816-4 command and response APDUs (cases 1–4, short and extended).

Parsing follows the length rules of ISO/IEC 7816-4 §5.1 as vsmartcard applies
them (domain-facts §1.1): a command is entirely short or entirely extended, an
extended command is flagged by a ``00`` byte where a short Lc would be. This is the
project's one case parser, in two modes:

- strict, :meth:`CommandAPDU.parse`: every malformed input raises
  :class:`APDUFormatError` naming the problem (the card runtime, secure messaging,
  the specs);
- lenient, :func:`split_command`: never raises; it splits any byte string into the
  bytes of header, Lc, data and Le, and says what is wrong with one that fits no case
  (traces must show whatever was sent, and T=0 handling re-sends with a new Le).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .errors import APDUFormatError
from .hexutil import to_hex

__all__ = ["CLA", "APDUCase", "CommandAPDU", "CommandParts", "ResponseAPDU", "split_command"]

MAX_SHORT_NE = 256
MAX_EXTENDED_NE = 65536


class APDUCase(Enum):
    CASE_1 = "1"
    CASE_2S = "2S"
    CASE_3S = "3S"
    CASE_4S = "4S"
    CASE_2E = "2E"
    CASE_3E = "3E"
    CASE_4E = "4E"


@dataclass(frozen=True)
class CLA:
    """Decoded class byte (ISO/IEC 7816-4 §5.4.1).

    Proprietary classes (b8 set, e.g. GlobalPlatform's 80/84) use the same bit
    layout as the interindustry ones, which is how GlobalPlatform encodes its
    channel and secure-messaging bits.
    """

    raw: int
    proprietary: bool
    chaining: bool
    secure_messaging: bool
    channel: int

    @classmethod
    def decode(cls, cla: int) -> CLA:
        # Every command's class byte is decoded on both sides: the 255 valid answers are
        # immutable, so they are built once (_DECODED) and shared.
        if type(cla) is int and 0 <= cla < 0xFF and cls is CLA:
            return _DECODED[cla]
        return cls._decode(cla)

    @classmethod
    def _decode(cls, cla: int) -> CLA:
        if not 0 <= cla <= 0xFF:
            raise APDUFormatError(f"CLA out of range: {cla}")
        if cla == 0xFF:
            raise APDUFormatError("CLA FF is invalid (reserved for PPS)")
        proprietary = bool(cla & 0x80)
        if cla & 0x40:  # further interindustry class: channels 4..19
            return cls(cla, proprietary, bool(cla & 0x10), bool(cla & 0x20), 4 + (cla & 0x0F))
        return cls(cla, proprietary, bool(cla & 0x10), bool(cla & 0x0C), cla & 0x03)

    @staticmethod
    def encode(*, channel: int = 0, secure_messaging: bool = False, chaining: bool = False,
               proprietary: bool = False) -> int:
        """Build a class byte for a channel, with SM and chaining bits."""
        if not 0 <= channel <= 19:
            raise APDUFormatError(f"logical channel {channel} outside 0..19")
        base = 0x80 if proprietary else 0x00
        if chaining:
            base |= 0x10
        if channel <= 3:
            return base | channel | (0x04 if secure_messaging else 0)
        cla = base | 0x40 | (channel - 4) | (0x20 if secure_messaging else 0)
        if cla == 0xFF:
            raise APDUFormatError("that combination encodes CLA FF, which is reserved")
        return cla

    def with_channel(self, channel: int) -> int:
        """This class byte moved to another logical channel."""
        return CLA.encode(channel=channel, secure_messaging=self.secure_messaging,
                          chaining=self.chaining, proprietary=self.proprietary)


_DECODED: tuple[CLA, ...] = tuple(CLA._decode(value) for value in range(0xFF))


@dataclass(frozen=True, init=False)
class CommandAPDU:
    """A command APDU. ``ne`` is the expected response length (None: no Le field).

    ``extended`` forces the extended encoding; by default it is chosen only when
    the data or Ne do not fit a short APDU.
    """

    cla: int
    ins: int
    p1: int = 0
    p2: int = 0
    data: bytes = b""
    ne: int | None = None
    extended: bool = False

    def __init__(self, cla: int, ins: int, p1: int = 0, p2: int = 0, data: bytes = b"",
                 ne: int | None = None, extended: bool = False) -> None:
        # Several commands are built per APDU on each side: filling the (frozen) fields
        # through __dict__ costs a third of the generated __init__'s object.__setattr__.
        fields = self.__dict__
        fields["cla"], fields["ins"], fields["p1"], fields["p2"] = cla, ins, p1, p2
        fields["data"], fields["ne"], fields["extended"] = data, ne, extended
        if not (type(cla) is int and type(ins) is int and type(p1) is int and type(p2) is int
                and 0 <= cla <= 0xFF and 0 <= ins <= 0xFF and 0 <= p1 <= 0xFF
                and 0 <= p2 <= 0xFF and len(data) <= 65535
                and (ne is None or (type(ne) is int and 0 <= ne <= MAX_EXTENDED_NE))):
            self._check()  # the common case passes the one expression above

    @classmethod
    def _decoded(cls, cla: int, ins: int, p1: int, p2: int, data: bytes = b"",
                 ne: int | None = None, extended: bool = False) -> CommandAPDU:
        """A command whose fields come from decoding bytes, so they already fit."""
        apdu = object.__new__(cls)
        fields = apdu.__dict__
        fields["cla"], fields["ins"], fields["p1"], fields["p2"] = cla, ins, p1, p2
        fields["data"], fields["ne"], fields["extended"] = data, ne, extended
        return apdu

    def _check(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 0xFF:
                raise APDUFormatError(f"{name.upper()} must be a byte, got {value!r}")
        if len(self.data) > 65535:
            raise APDUFormatError(f"command data of {len(self.data)} bytes exceeds 65535")
        if self.ne is not None and not 0 <= self.ne <= MAX_EXTENDED_NE:
            raise APDUFormatError(f"Ne {self.ne} outside 0..65536")

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    @property
    def is_extended(self) -> bool:
        if not self.data and self.ne is None:
            return False  # case 1 has no length fields to be extended
        return (self.extended or len(self.data) > 255
                or (self.ne is not None and self.ne > MAX_SHORT_NE))

    @property
    def case(self) -> APDUCase:
        ext = self.is_extended
        if not self.data:
            if self.ne is None:
                return APDUCase.CASE_1
            return APDUCase.CASE_2E if ext else APDUCase.CASE_2S
        if self.ne is None:
            return APDUCase.CASE_3E if ext else APDUCase.CASE_3S
        return APDUCase.CASE_4E if ext else APDUCase.CASE_4S

    @property
    def cla_info(self) -> CLA:
        return CLA.decode(self.cla)

    def encode(self) -> bytes:
        out = bytearray(self.header)
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
                if self.ne is not None:
                    out += (self.ne % MAX_EXTENDED_NE).to_bytes(2, "big")
            elif self.ne is not None:
                out += b"\x00" + (self.ne % MAX_EXTENDED_NE).to_bytes(2, "big")
            return bytes(out)
        if self.data:
            out.append(len(self.data))
            out += self.data
        if self.ne is not None:
            out.append(self.ne % MAX_SHORT_NE)
        return bytes(out)

    __bytes__ = encode

    def replace(self, **changes: object) -> CommandAPDU:
        fields = {"cla": self.cla, "ins": self.ins, "p1": self.p1, "p2": self.p2,
                  "data": self.data, "ne": self.ne, "extended": self.extended}
        fields.update(changes)
        return CommandAPDU(**fields)  # type: ignore[arg-type]

    @classmethod
    def parse(cls, raw: bytes) -> CommandAPDU:
        """Decode a command APDU; raise :class:`APDUFormatError` on any inconsistency."""
        raw = raw if type(raw) is bytes else bytes(raw)
        n = len(raw)
        if n < 4:
            raise APDUFormatError(f"command APDU too short: {n} bytes, a header needs 4")
        cla, ins, p1, p2 = raw[:4]
        if n == 4:
            return cls._decoded(cla, ins, p1, p2)
        if n == 5:
            return cls._decoded(cla, ins, p1, p2, ne=raw[4] or MAX_SHORT_NE)
        if raw[4] == 0 and n >= 7:
            return cls._parse_extended(raw)
        lc = raw[4]
        if lc == 0:
            raise APDUFormatError(f"short Lc of 00 with {n - 5} trailing bytes")
        if n == 5 + lc:
            return cls._decoded(cla, ins, p1, p2, raw[5:])
        if n == 6 + lc:
            return cls._decoded(cla, ins, p1, p2, raw[5:5 + lc], ne=raw[-1] or MAX_SHORT_NE)
        raise APDUFormatError(
            f"short Lc={lc} announces {lc} data bytes but the APDU carries {n - 5} after Lc")

    @classmethod
    def _parse_extended(cls, raw: bytes) -> CommandAPDU:
        cla, ins, p1, p2 = raw[:4]
        n = len(raw)
        if n == 7:
            le = int.from_bytes(raw[5:7], "big")
            return cls(cla, ins, p1, p2, ne=le or MAX_EXTENDED_NE, extended=True)
        lc = int.from_bytes(raw[5:7], "big")
        if lc == 0:
            raise APDUFormatError("extended Lc of 0000 is invalid")
        if n == 7 + lc:
            return cls(cla, ins, p1, p2, raw[7:], extended=True)
        if n == 9 + lc:
            le = int.from_bytes(raw[-2:], "big")
            return cls(cla, ins, p1, p2, raw[7:7 + lc], ne=le or MAX_EXTENDED_NE, extended=True)
        raise APDUFormatError(
            f"extended Lc={lc} announces {lc} data bytes but the APDU carries {n - 7} after Lc")

    def __str__(self) -> str:
        return to_hex(self.encode())


@dataclass(frozen=True, slots=True)
class CommandParts:
    """A command APDU split into the bytes that encode each field (the lenient mode).

    ``problem`` is None for a well-formed command; otherwise it says why the bytes fit
    no case, ``header`` holds the first (up to) 4 bytes and ``data`` everything after
    them. For case 2E ``le`` is the 3-byte extended Le field (``00`` and two bytes),
    so ``header + lc + data + le`` always gives the bytes back.
    """

    header: bytes
    lc: bytes = b""
    data: bytes = b""
    le: bytes = b""
    problem: str | None = None

    @property
    def well_formed(self) -> bool:
        return self.problem is None

    @property
    def extended(self) -> bool:
        return len(self.lc) == 3 or len(self.le) > 1

    @property
    def ne(self) -> int | None:
        """Maximum response length the command asks for, None when Le is absent."""
        if not self.le:
            return None
        value = int.from_bytes(self.le, "big")
        return value or (MAX_SHORT_NE if len(self.le) == 1 else MAX_EXTENDED_NE)

    def encode(self) -> bytes:
        return self.header + self.lc + self.data + self.le


def split_command(raw: bytes) -> CommandParts:
    """The lenient mode of :meth:`CommandAPDU.parse`: any bytes, split, never an error."""
    raw = bytes(raw)
    try:
        apdu = CommandAPDU.parse(raw)
    except APDUFormatError as exc:
        return CommandParts(raw[:4], data=raw[4:], problem=str(exc))
    # The strict parse accepted the bytes, so they are the command's own encoding.
    le_size = 0 if apdu.ne is None else (1 if not apdu.extended else 3 if not apdu.data else 2)
    lc_size = 0 if not apdu.data else (3 if apdu.extended else 1)
    end = len(raw) - le_size
    return CommandParts(raw[:4], raw[4:4 + lc_size], raw[4 + lc_size:end], raw[end:])


@dataclass(frozen=True)
class ResponseAPDU:
    """A response APDU: data followed by SW1 SW2."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        if not 0 <= self.sw <= 0xFFFF:
            raise APDUFormatError(f"status word out of range: {self.sw:#x}")

    @classmethod
    def _decoded(cls, data: bytes, sw: int) -> ResponseAPDU:
        """A response decoded from bytes (its status word fits two bytes)."""
        response = object.__new__(cls)
        response.__dict__["data"], response.__dict__["sw"] = data, sw
        return response

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    __bytes__ = encode

    @classmethod
    def parse(cls, raw: bytes) -> ResponseAPDU:
        raw = raw if type(raw) is bytes else bytes(raw)
        if len(raw) < 2:
            raise APDUFormatError(f"response APDU of {len(raw)} bytes has no status word")
        return cls._decoded(raw[:-2], (raw[-2] << 8) | raw[-1])

    def __str__(self) -> str:
        return f"{to_hex(self.data)} {self.sw:04X}".lstrip()
