"""Errors of the GlobalPlatform host library (a status word error is :class:`CardError`).

:class:`AuthenticationError` means: stop. The keys or the key version are wrong, or the
card refused the host's cryptogram; trying again only brings the key set closer to
being locked.
"""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError
from apdu_specs.sw import CardError

__all__ = ["AuthenticationError", "CardError", "GPError", "GPUsageError", "KCVMismatchError",
           "KeySpecError", "ResponseError", "UnknownKeySetError"]


class GPError(DualcardError):
    """Base of the GP host errors that are not plain status words."""


class AuthenticationError(GPError, RemoteError):
    """Secure channel not opened: wrong keys, unknown or blocked key set, refused cryptogram."""


class UnknownKeySetError(AuthenticationError):
    """INITIALIZE UPDATE answered 6A88: the card has no key set of that version.

    Nothing was computed with the keys, so nothing counts against any key set: a caller
    may try another key version.
    """


class GPUsageError(GPError, LocalError):
    """The client was used the wrong way: a command that needs a secure channel without one,
    keys of another algorithm than the card's."""


class KeySpecError(GPError, LocalError, ValueError):
    """A key specification that cannot be understood or resolved (never shows key values)."""


class KCVMismatchError(GPError, RemoteError):
    """PUT KEY: the card reports key check values other than those of the keys sent."""


class ResponseError(GPError, RemoteError):
    """A response that does not parse, or whose R-MAC does not verify."""
