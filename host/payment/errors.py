"""Typed errors of the host payment layer (card data, issuer checks, flows)."""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = [
    "ARQCError",
    "CardDataError",
    "PaymentError",
    "PaymentProfileError",
    "RequestMismatchError",
]


class PaymentError(DualcardError):
    """Base of the host payment errors."""


class CardDataError(PaymentError, RemoteError, ValueError):
    """What the card returned does not make a usable payment application."""


class PaymentProfileError(PaymentError, LocalError, ValueError):
    """A payment application profile, or issuer key file, that cannot produce a valid card."""


class ARQCError(PaymentError, RemoteError):
    """The ARQC does not verify: the request did not come from this card (or was altered)."""


class RequestMismatchError(PaymentError, RemoteError, ValueError):
    """An authorisation request whose clear fields disagree with what its cryptogram covers
    (or whose covered data does not fit the issuer's CDOL1): refused, never decided on.

    A :class:`RemoteError`: the issuer's refusal of what the terminal claimed."""
