"""The shop's refusals: each names what was wrong."""

from __future__ import annotations

from apdu_specs.errors import LocalError, RemoteError

__all__ = ["GatewayRefusalError", "ShopError", "ShopLoginError"]


class ShopError(LocalError):
    """The shop's own refusal (an unknown order, a file that is not the shop's)."""


class ShopLoginError(LocalError):
    """A member id and password that do not match an account of the shop."""


class GatewayRefusalError(RemoteError):
    """The authentication centre or the gateway refused the order; ``reason`` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
