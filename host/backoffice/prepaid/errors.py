"""Typed refusals of the prepaid part of the back office. Input that can never be accepted is a
:class:`~host.backoffice.errors.ValidationError` (local); a refusal by the state of the cards
(not enough value, a frozen merchant) is a :class:`PrepaidRefusedError` (remote)."""

from __future__ import annotations

from apdu_specs.errors import RemoteError
from host.backoffice.errors import BackOfficeError

__all__ = ["ClaimStateError", "InsufficientValueError", "MerchantFrozenError", "NoRateError",
           "PrepaidRefusedError"]


class PrepaidRefusedError(BackOfficeError, RemoteError):
    """The cards' state refuses the operation; nothing was posted."""


class InsufficientValueError(PrepaidRefusedError):
    """A payment above what the account's usable cards hold."""


class MerchantFrozenError(PrepaidRefusedError):
    """The merchant's cards are frozen by a claim: no issue, payment or refund."""


class ClaimStateError(PrepaidRefusedError):
    """A claim step out of order (paying a claim the insurer has not approved)."""


class NoRateError(PrepaidRefusedError):
    """The insurer's rate table prices no policy of this term, sum insured and holder kind."""
