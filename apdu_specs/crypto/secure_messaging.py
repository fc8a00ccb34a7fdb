"""The interface every GlobalPlatform secure-messaging session offers (SCP02, SCP03).

A security domain or a host holds one of these after EXTERNAL AUTHENTICATE and does
not need to know which protocol is underneath. Subclasses implement the field-level
``protect_*``/``unprotect_*`` methods; the APDU-level ``wrap_*``/``unwrap_*`` methods are
derived here once, over the project's one APDU case parser
(:meth:`apdu_specs.apdu.CommandAPDU.parse`). The class-byte coding of GlobalPlatform
secure messaging (GPC 2.3 §11.1.4) lives here too, for the SCPs and their handshakes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import IntFlag

from apdu_specs.apdu import CommandAPDU
from apdu_specs.crypto.errors import CryptoError, FormatError, SessionClosedError
from apdu_specs.errors import APDUFormatError

__all__ = [
    "SecureMessagingSession",
    "check_status_word",
    "has_secure_messaging",
    "header_bytes",
    "is_protected_status",
    "mac_cla",
    "parse_short",
    "plain_cla",
    "secure_messaging_cla",
]


class SecureMessagingSession(ABC):
    """Secure messaging state of one end of an open secure channel."""

    _closed: bool = False

    @property
    @abstractmethod
    def security_level(self) -> IntFlag:
        """The level set by EXTERNAL AUTHENTICATE."""

    @property
    @abstractmethod
    def protects_commands(self) -> bool:
        """True if commands carry a C-MAC at this level."""

    @property
    def protects_responses(self) -> bool:
        """False only when responses certainly carry no protection at this level (no
        R-MAC), so that :meth:`unwrap_response` has nothing to verify."""
        return True

    @property
    def is_open(self) -> bool:
        """False once :meth:`close` was called or a verification failed."""
        return not self._closed

    def close(self) -> None:
        """End the session; later calls raise :class:`SessionClosedError`."""
        self._closed = True

    def _require_open(self) -> None:
        if self._closed:
            raise SessionClosedError("the secure channel session is closed")

    def _fail(self, error: CryptoError) -> CryptoError:
        """Close the session and hand back ``error`` for the caller to raise."""
        self._closed = True
        return error

    @abstractmethod
    def protect_command(
        self, cla: int, ins: int, p1: int, p2: int, data: bytes
    ) -> tuple[int, bytes]:
        """Host: the transmitted CLA and data field of a command."""

    @abstractmethod
    def unprotect_command(self, cla: int, ins: int, p1: int, p2: int, data: bytes) -> bytes:
        """Card: verify (and decrypt) a command's data field; returns the plain data."""

    @abstractmethod
    def protect_response(self, data: bytes, sw: int) -> bytes:
        """Card: the response data field to send for ``data`` and ``sw``."""

    @abstractmethod
    def unprotect_response(self, body: bytes, sw: int) -> bytes:
        """Host: verify (and decrypt) a response data field; returns the plain data."""

    def wrap_command(self, apdu: bytes) -> bytes:
        """Host: protect a short command APDU (case 1–4); a present Le is sent as 00."""
        cmd = parse_short(apdu)
        self._require_open()
        if not self.protects_commands:
            return bytes(apdu)
        return self.wrap_fields(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, cmd.ne is not None)

    def wrap_fields(self, cla: int, ins: int, p1: int, p2: int, data: bytes,
                    has_le: bool) -> bytes:
        """Host: :meth:`wrap_command` for a command already split into its fields (short,
        at a level with C-MAC): the protected APDU, Le sent as 00 when present."""
        cla, data = self.protect_command(cla, ins, p1, p2, data)
        return _encode_short(cla, ins, p1, p2, data, 256 if has_le else None)

    def unwrap_command(self, apdu: bytes) -> bytes:
        """Card: verify and decrypt a protected short APDU; returns the plain APDU."""
        cmd = parse_short(apdu)
        data = self.unprotect_command(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data)
        if not self.protects_commands:
            return bytes(apdu)
        return _encode_short(plain_cla(cmd.cla), cmd.ins, cmd.p1, cmd.p2, data, cmd.ne)

    def wrap_response(self, response: bytes) -> bytes:
        """Card: ``data || SW`` in, protected ``data' || SW`` out."""
        sw = _status_word(response)
        return self.protect_response(response[:-2], sw) + response[-2:]

    def unwrap_response(self, response: bytes) -> bytes:
        """Host: protected ``data' || SW`` in, ``data || SW`` out."""
        if (not self._closed and type(response) is bytes and len(response) >= 2
                and not self.protects_responses):
            return response  # the level protects no response: the answer is already plain
        sw = _status_word(response)
        return self.unprotect_response(response[:-2], sw) + response[-2:]


def parse_short(apdu: bytes) -> CommandAPDU:
    """A short command APDU (case 1–4) parsed strictly; :class:`FormatError` otherwise.

    SCP02 and SCP03 as implemented here protect short APDUs only.
    """
    try:
        cmd = CommandAPDU.parse(apdu)
    except APDUFormatError as exc:
        raise FormatError(str(exc)) from None
    if cmd.extended:
        raise FormatError("extended-length APDUs are not supported by secure messaging")
    return cmd


def _encode_short(cla: int, ins: int, p1: int, p2: int, data: bytes, ne: int | None) -> bytes:
    if len(data) > 255:
        raise FormatError(f"{len(data)} data bytes do not fit a short APDU")
    return CommandAPDU(cla, ins, p1, p2, data, ne).encode()


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


def _status_word(response: bytes) -> int:
    if len(response) < 2:
        raise FormatError("a response APDU has at least the 2 status bytes")
    return int.from_bytes(response[-2:], "big")


def check_status_word(sw: int) -> None:
    """Raise :class:`FormatError` unless ``sw`` fits two bytes."""
    if not 0 <= sw <= 0xFFFF:
        raise FormatError(f"status word {sw} does not fit 2 bytes")
