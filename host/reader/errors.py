"""Typed errors of the personal reader (binding, authentication, its key store)."""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = ["CardNotBoundHereError", "CardProofError", "PersonalModeError", "ReaderError",
           "ReaderKeyError"]


class ReaderError(DualcardError):
    """Base of the personal reader's errors."""


class CardNotBoundHereError(ReaderError, RemoteError):
    """The card in the reader is not the one bound to it (the card said so with 6A88, or the
    reader holds no binding key for it)."""


class CardProofError(ReaderError, RemoteError):
    """The card's cryptogram does not verify: not the bound card, or a replayed answer."""


class PersonalModeError(ReaderError, RemoteError):
    """The card refused the reader's cryptogram, or a payment command without it (6982)."""


class ReaderKeyError(ReaderError, LocalError, ValueError):
    """The reader's key store is unreadable, or a reader id or key is malformed."""
