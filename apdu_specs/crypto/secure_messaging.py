"""The interface every GlobalPlatform secure-messaging session offers (SCP02, SCP03).

A security domain or a host holds one of these after EXTERNAL AUTHENTICATE and does
not need to know which protocol is underneath. Subclasses implement the field-level
``protect_*``/``unprotect_*`` methods; the APDU-level ``wrap_*``/``unwrap_*`` methods are
derived here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import IntFlag

from apdu_specs.crypto._apdu import encode_short, plain_cla, split_short
from apdu_specs.crypto.errors import CryptoError, FormatError, SessionClosedError

__all__ = ["SecureMessagingSession", "check_status_word"]


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
        cla, ins, p1, p2, data, le = split_short(apdu)
        self._require_open()
        if not self.protects_commands:
            return bytes(apdu)
        return self.wrap_fields(cla, ins, p1, p2, data, le is not None)

    def wrap_fields(self, cla: int, ins: int, p1: int, p2: int, data: bytes,
                    has_le: bool) -> bytes:
        """Host: :meth:`wrap_command` for a command already split into its fields (short,
        at a level with C-MAC): the protected APDU, Le sent as 00 when present."""
        cla, data = self.protect_command(cla, ins, p1, p2, data)
        return encode_short(cla, ins, p1, p2, data, 0x00 if has_le else None)

    def unwrap_command(self, apdu: bytes) -> bytes:
        """Card: verify and decrypt a protected short APDU; returns the plain APDU."""
        cla, ins, p1, p2, data, le = split_short(apdu)
        data = self.unprotect_command(cla, ins, p1, p2, data)
        if not self.protects_commands:
            return bytes(apdu)
        return encode_short(plain_cla(cla), ins, p1, p2, data, le)

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


def _status_word(response: bytes) -> int:
    if len(response) < 2:
        raise FormatError("a response APDU has at least the 2 status bytes")
    return int.from_bytes(response[-2:], "big")


def check_status_word(sw: int) -> None:
    """Raise :class:`FormatError` unless ``sw`` fits two bytes."""
    if not 0 <= sw <= 0xFFFF:
        raise FormatError(f"status word {sw} does not fit 2 bytes")
