"""Who a terminal belongs to: the merchant's alliance id and name, and the terminal's id."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import POSUsageError

__all__ = ["MerchantIdentity"]

_MEMBER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class MerchantIdentity:
    """The merchant (its member id in the alliance) and this terminal (6-byte PBOC id)."""

    merchant_id: str
    terminal_id: bytes
    name: str = ""

    def __post_init__(self) -> None:
        if not _MEMBER_ID.fullmatch(self.merchant_id):
            raise POSUsageError(f"merchant id {self.merchant_id!r}: 1-64 of [A-Za-z0-9_.-]")
        if not isinstance(self.terminal_id, bytes) or len(self.terminal_id) != 6:
            raise POSUsageError("a terminal id is 6 bytes")
        if not self.name:
            object.__setattr__(self, "name", self.merchant_id)

    @property
    def terminal_hex(self) -> str:
        """The terminal id as the back office writes it (12 upper-case hex digits)."""
        return self.terminal_id.hex().upper()
