"""The two parties :class:`~host.points.PointsClient` talks to, as the terminal sees them.

- :class:`LinkLoadHost` — the points issuer's load host, reached through the
  :class:`~host.pos.link.BackOfficeLink` (the load key never sits in the terminal);
- :class:`JournalingSAM` — the terminal's own purchase security module, wrapped so each
  MAC1 it issues is journaled before DEBIT FOR PURCHASE goes to the card.

Both call a hook with the movement *before* the value command is sent: if the card goes
away, the journal already holds what GET TRANSACTION PROVE will need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from apdu_specs.commands.purse_data import Purse
from host.points.client import PendingPurchase
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit, PurchaseInit
from host.points.records import PurseRecord
from host.points.security_module import PurchaseAuthorization, PurchaseSecurityModule
from host.records.batch import SaleClaim

from .link import BackOfficeLink

__all__ = ["JournalingSAM", "LinkLoadHost"]


class LinkLoadHost:
    """Load approvals from the back office for the sale ``sale`` (what proves it);
    ``on_authorised`` sees each before it is used."""

    def __init__(self, link: BackOfficeLink,
                 on_authorised: Callable[[LoadAuthorization], None] | None = None, *,
                 sale: SaleClaim | None = None) -> None:
        self._link = link
        self._on_authorised = on_authorised
        self._sale = sale or SaleClaim()

    def key_index(self, card_identity: str, purse: Purse) -> int:
        return self._link.load_key_index(card_identity, purse)

    def authorize(self, card_identity: str, init: LoadInit,
                  when: dt.datetime) -> LoadAuthorization:
        authorization = self._link.authorize_load(card_identity, init, when, sale=self._sale)
        if self._on_authorised is not None:
            self._on_authorised(authorization)
        return authorization

    def confirm(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        return self._link.confirm_load(authorization, tac)


class JournalingSAM:
    """A :class:`PurchaseSecurityModule` that reports each authorised debit first."""

    def __init__(self, sam: PurchaseSecurityModule,
                 on_authorised: Callable[[PendingPurchase], None]) -> None:
        self._sam = sam
        self._on_authorised = on_authorised

    @property
    def terminal_id(self) -> bytes:
        return self._sam.terminal_id

    def key_index(self, card_identity: str, purse: Purse) -> int:
        return self._sam.key_index(card_identity, purse)

    def authorize_purchase(self, card_identity: str, init: PurchaseInit,
                           when: dt.datetime) -> PurchaseAuthorization:
        authorization = self._sam.authorize_purchase(card_identity, init, when)
        self._on_authorised(PendingPurchase(card_identity, init, authorization))
        return authorization

    def verify_mac2(self, mac2: bytes) -> None:
        self._sam.verify_mac2(mac2)
