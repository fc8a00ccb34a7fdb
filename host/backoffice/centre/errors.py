"""Refusals of the settlement centre. Bad input (a zero amount, an unknown biller) is the
back office's :class:`~host.backoffice.errors.ValidationError` or ``NotFoundError``; these
are the centre saying no to a well-formed request, each with its reason."""

from __future__ import annotations

from apdu_specs.errors import RemoteError
from host.backoffice.errors import BackOfficeError

__all__ = [
    "BankUnavailableError",
    "CentreRefusedError",
    "OrderRefusedError",
    "ReleaseRefusedError",
    "VoucherRefusedError",
]


class CentreRefusedError(BackOfficeError, RemoteError):
    """The settlement centre refused a request; ``reason`` is a short code, the message
    says it in words."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class OrderRefusedError(CentreRefusedError):
    """An order the authentication centre refuses (F22): over the credit line, an address
    not on file, an unknown merchant."""


class ReleaseRefusedError(CentreRefusedError):
    """A release or void that cannot happen: wrong or locked code, date not reached, the
    order already closed."""


class VoucherRefusedError(CentreRefusedError):
    """A voucher unknown or already used."""


class BankUnavailableError(BackOfficeError, RemoteError):
    """The bank gateway did not answer; the top-up stays requested and is asked again."""
