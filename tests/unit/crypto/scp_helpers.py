"""Shared pieces of the secure channel tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from apdu_specs.commands.globalplatform import EXTERNAL_AUTHENTICATE
from apdu_specs.crypto.secure_messaging import SecureMessagingSession

S = TypeVar("S", bound=SecureMessagingSession, covariant=True)


class CardEnd(Protocol[S]):
    def verify_external_authenticate(self, cla: int, fields: Mapping[str, Any]) -> S: ...


def card_verifies(card: CardEnd[S], apdu: bytes) -> S:
    """The card end's check of EXTERNAL AUTHENTICATE as the security domain runs it: on the
    fields the command's spec parses, with the CLA the command came with."""
    return card.verify_external_authenticate(apdu[0], EXTERNAL_AUTHENTICATE.parse(apdu))
