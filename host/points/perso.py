"""The purse's personalisation data: the DGIs a bureau sends through STORE DATA.

Keys are diversified for this card from the issuer's key source; key and PIN DGIs are
sensitive, so the security domain's STORE DATA must carry them encrypted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from apdu_specs.caches import pure_cache
from apdu_specs.commands.purse_data import (
    APPLICATION_DGI,
    DGI,
    KEY_DGI,
    OPTION_PIN_FOR_PURCHASE,
    PIN_DGI,
    PURSE_DGI,
    TAC_KEY_DGI,
    KeyKind,
    Purse,
    build_layout,
    encode_identity,
    encode_pin,
    key_dgi,
    purse_dgi,
)

from .errors import PointsUsageError
from .keys import PurseKeySource

__all__ = ["PurseProfile", "purse_perso_dgis"]

DEFAULT_MAX_BALANCE = 99_999_999


@dataclass(frozen=True)
class PurseProfile:
    """How a purse starts: its ceiling, its opening balance, whether spending needs the PIN."""

    max_balance: int = DEFAULT_MAX_BALANCE
    initial_balance: int = 0
    pin_for_purchase: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.initial_balance <= self.max_balance <= 0xFFFFFFFF:
            raise PointsUsageError("need 0 <= initial balance <= max balance < 2**32")


@pure_cache(maxsize=64)
def _purse_state(algorithm_id: int, profile: PurseProfile) -> bytes:
    """A purse's parameters and opening state: the same on every card of a product."""
    return build_layout(PURSE_DGI, {
        "algorithm_id": algorithm_id, "max_balance": profile.max_balance,
        "balance": profile.initial_balance,
        "options": OPTION_PIN_FOR_PURCHASE if profile.pin_for_purchase else 0}, "purse DGI")


def purse_perso_dgis(card_identity: str, keys: PurseKeySource, *,
                     profiles: Mapping[Purse, PurseProfile] | None = None,
                     pin: str | None = None, pin_try_limit: int = 3,
                     mac_try_limit: int = 3) -> list[tuple[int, bytes]]:
    """Every DGI to personalise the purse of card ``card_identity`` (default: all 3 purses)."""
    profiles = profiles if profiles is not None else {p: PurseProfile() for p in Purse}
    dgis: list[tuple[int, bytes]] = [(DGI.APPLICATION, build_layout(APPLICATION_DGI, {
        "identity": encode_identity(card_identity), "mac_try_limit": mac_try_limit}, "DGI 0101"))]
    if pin is not None:
        dgis.append((DGI.PIN, build_layout(PIN_DGI, {"try_limit": pin_try_limit,
                                                     "pin": encode_pin(pin)}, "DGI 8010")))
    for purse, profile in sorted(profiles.items()):
        purse = Purse(purse)
        card = keys.card_keys(card_identity, purse)
        dgis.append((purse_dgi(purse), _purse_state(card.algorithm_id, profile)))
        for kind, key in ((KeyKind.LOAD, card.dlk), (KeyKind.PURCHASE, card.dpk)):
            dgis.append((key_dgi(purse, kind), build_layout(KEY_DGI, {
                "key_index": card.key_index, "key_version": card.key_version, "key": key},
                "key DGI")))
        dgis.append((key_dgi(purse, KeyKind.TAC), build_layout(TAC_KEY_DGI, {
            "key_version": card.key_version, "key": card.dtk}, "TAC key DGI")))
    return [(int(dgi), data) for dgi, data in dgis]
