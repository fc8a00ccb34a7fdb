"""Errors of the key providers; messages name tokens and keys by label, never by value."""

from __future__ import annotations

from apdu_specs.errors import LocalError

__all__ = ["CardRegisterError", "HSMError", "HSMModuleError", "HSMUnsupportedError", "KeyObjectMissingError",
           "KeyURIError", "TokenMissingError", "TokenPinError", "WrongKeyTypeError"]


class HSMError(LocalError, RuntimeError):
    """Base of every key-provider error of the token path."""


class KeyURIError(HSMError, ValueError):
    """A ``pkcs11:`` URI that does not parse or lacks a token or object name."""


class HSMModuleError(HSMError):
    """The PKCS#11 module (a shared library) cannot be loaded."""


class TokenMissingError(HSMError, LookupError):
    """No token with the label the URI names."""


class TokenPinError(HSMError):
    """The user PIN is missing, wrong, or the token has locked it."""


class KeyObjectMissingError(HSMError, LookupError):
    """The token holds no secret key with the label asked for (or more than one)."""


class WrongKeyTypeError(HSMError):
    """A key object of another type than the operation needs (an AES key for 3DES...)."""


class CardRegisterError(HSMError, ValueError):
    """A card register (card id to PAN and PSN) that cannot be read."""


class HSMUnsupportedError(HSMError):
    """An operation this token cannot do inside itself (docs/hsm.md lists them)."""
