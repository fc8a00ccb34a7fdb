"""Typed errors raised by the crypto schemes.

Every error derives from :class:`CryptoError`, so a caller (a card applet turning
errors into status words, or the host turning them into one CLI line) can catch
the whole family at one boundary and still tell a bad key length from a failed MAC.
Input errors also derive from :class:`ValueError` so generic validation code keeps
working. Messages never contain key material. A failed MAC or cryptogram is a
:class:`~apdu_specs.errors.RemoteError` (the other side sent it); every other crypto
error is a :class:`~apdu_specs.errors.LocalError`.
"""

from __future__ import annotations

from ..errors import DualcardError, LocalError, RemoteError

__all__ = [
    "CryptoError",
    "CryptogramError",
    "DataLengthError",
    "FormatError",
    "KeyLengthError",
    "MACError",
    "PINBlockError",
    "PaddingError",
    "SecureChannelError",
    "SecurityLevelError",
    "SessionClosedError",
    "UnsupportedAlgorithmError",
    "VerificationError",
]


class CryptoError(DualcardError):
    """Base class of every error raised by :mod:`apdu_specs.crypto`."""


class KeyLengthError(CryptoError, LocalError, ValueError):
    """A key has a length the algorithm does not accept."""


class DataLengthError(CryptoError, LocalError, ValueError):
    """An input has the wrong length (not a whole number of blocks, wrong field size)."""


class PaddingError(CryptoError, LocalError, ValueError):
    """Decrypted data does not end with valid ISO/IEC 9797-1 method 2 padding."""


class FormatError(CryptoError, LocalError, ValueError):
    """An input is malformed: not a digit string, out of range, or an unparsable APDU."""


class UnsupportedAlgorithmError(CryptoError, LocalError, ValueError):
    """The scheme is not defined for the requested algorithm."""


class VerificationError(CryptoError, RemoteError):
    """A received MAC or cryptogram does not match the one computed locally."""


class CryptogramError(VerificationError):
    """An authentication cryptogram (card, host, ARQC, ARPC) does not match."""


class MACError(VerificationError):
    """A message authentication code (C-MAC, R-MAC, MAC1, MAC2, TAC) does not match."""


class PINBlockError(VerificationError, ValueError):
    """A received PIN block does not decode: wrong length, control field, PIN length, digits or
    fill — what a block enciphered under another key or for another PAN gives."""


class SecureChannelError(CryptoError, LocalError):
    """A secure-channel operation is not allowed in the session's current state."""


class SecurityLevelError(SecureChannelError, ValueError):
    """A security level value is not one the secure channel protocol defines."""


class SessionClosedError(SecureChannelError):
    """The secure channel session was closed (after a verification failure or on request)."""
