"""Typed errors of the host payment layer (card data, issuer checks, flows)."""

from __future__ import annotations

__all__ = ["ARQCError", "CardDataError", "PaymentError", "ProfileError", "RequestMismatchError"]


class PaymentError(Exception):
    """Base of the host payment errors."""


class CardDataError(PaymentError, ValueError):
    """What the card returned does not make a usable payment application."""


class ProfileError(PaymentError, ValueError):
    """A personalisation profile that cannot produce a valid card."""


class ARQCError(PaymentError):
    """The ARQC does not verify: the request did not come from this card (or was altered)."""


class RequestMismatchError(PaymentError, ValueError):
    """An authorisation request whose clear fields disagree with what its cryptogram covers
    (or whose covered data does not fit the issuer's CDOL1): refused, never decided on."""
