"""One chip's card-side state: its memory, its installed applications, its services.

This is everything that would be on the silicon; how APDUs reach it (ATR,
channels, GET RESPONSE, power) is the simulator runtime's business.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .content import ChipContent
from .memory import PersistentMemory, Value

__all__ = ["Chip"]


class Chip:
    """A chip: role (``chip1``/``chip2``), persistent memory, content and services."""

    def __init__(self, role: str, memory: PersistentMemory | None = None, *,
                 random: Callable[[int], bytes] = os.urandom) -> None:
        self.role = role
        self.memory = memory or PersistentMemory()
        #: services published by applets for each other (the security domain, identity…)
        self.services: dict[str, Any] = {"chip_role": role}
        self.random = random
        self.content = ChipContent(self.memory, self.services, random)
        self.services["content"] = self.content

    def load(self, data: Mapping[str, Value]) -> None:
        """Replace the whole memory (image load, snapshot restore)."""
        self.memory = PersistentMemory(data)
        self.content = ChipContent(self.memory, self.services, self.random)
        self.services["content"] = self.content

    def snapshot(self) -> dict[str, Value]:
        return self.memory.snapshot()
