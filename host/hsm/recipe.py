"""A card key named by how it is made, not by its value (no PKCS#11 needed to name one).

A :class:`KeyRecipe` is ``ECB(master, data)`` — GP EMV CPS and KDF3 card keys (the latter
over CMAC-masked blocks, :func:`.schemes.kdf3_card_key`), EMV option A ICC master keys and
the purse's card keys are all that — so the same recipe gives the same key wherever it is
derived. A plan holds recipes; the token makes each key only when it puts it on a card
(:mod:`.sealing`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .provider import HeldKey

__all__ = ["KeyRecipe", "Part"]


@dataclass(frozen=True, repr=False)
class KeyRecipe:
    """A card key: ``ECB(master, data)``; ``odd_parity`` when the scheme sets each byte's
    parity bit (3DES ICC master keys, 3DES purse keys). Named for errors, never a value."""

    master: HeldKey
    data: bytes
    name: str = ""
    odd_parity: bool = False

    @property
    def length(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"KeyRecipe({self.name or self.master.name})"


#: a piece of a secret value: known bytes, or a card key made in the token
Part = bytes | KeyRecipe
