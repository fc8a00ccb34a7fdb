"""Errors of the issuer key store; messages name keys by reference and KCV, never by value."""

from __future__ import annotations

from apdu_specs.errors import LocalError

__all__ = ["KeyCheckError", "KeyFileError", "KeyStoreError", "PassphraseError", "UnknownKeyError"]


class KeyStoreError(LocalError, ValueError):
    """Base of every key store error (a ``ValueError``: bad input, never a crash)."""


class KeyFileError(KeyStoreError):
    """A key file that cannot be read, is not a key file, or has an unknown version."""


class KeyCheckError(KeyStoreError):
    """A key, or a key component, does not match the key check value given for it."""


class PassphraseError(KeyStoreError):
    """The key file is encrypted and the passphrase is missing or wrong."""


class UnknownKeyError(KeyStoreError, LookupError):
    """A profile or command names a key the key file does not hold."""
