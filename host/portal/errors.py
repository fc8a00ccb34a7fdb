"""Typed errors of the portal: what an operator asked wrong at the CLI, and what a visitor
got wrong at the login form (answered as a page, never raised out of a request)."""

from __future__ import annotations

from apdu_specs.errors import DualcardError, LocalError, RemoteError

__all__ = ["LoginRefusedError", "PortalAccountError", "PortalError", "PortalSetupError",
           "ThrottledError"]


class PortalError(DualcardError):
    """Base of the portal's errors."""


class PortalAccountError(PortalError, LocalError):
    """A portal account cannot be made or changed as asked (names the account and why)."""


class PortalSetupError(PortalError, LocalError):
    """The portal cannot run as asked: the database holds no back office, say."""


class LoginRefusedError(PortalError, RemoteError):
    """The account, password or reset code given does not match (never says which)."""


class ThrottledError(PortalError, RemoteError):
    """Too many failed attempts for this account or from this address: wait and retry."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"too many failed attempts; retry in {retry_after} s")
