"""Typed errors of the payment protocol layer."""

from __future__ import annotations

from ..errors import ProtocolError

__all__ = ["PaymentFormatError"]


class PaymentFormatError(ProtocolError):
    """Payment data (BCD amount, PIN block, CVR, DGI, script) that does not parse or build."""
