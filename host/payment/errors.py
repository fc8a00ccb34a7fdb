"""Typed errors of the host payment layer (card data, issuer checks, flows)."""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = ["ARQCError", "CardDataError", "PaymentError", "PaymentProfileError"]


class PaymentError(DualcardError):
    """Base of the host payment errors."""


class CardDataError(PaymentError, RemoteError, ValueError):
    """What the card returned does not make a usable payment application."""


class PaymentProfileError(PaymentError, LocalError, ValueError):
    """A payment application profile, or issuer key file, that cannot produce a valid card."""


class ARQCError(PaymentError, RemoteError):
    """The ARQC does not verify: the request did not come from this card (or was altered)."""
