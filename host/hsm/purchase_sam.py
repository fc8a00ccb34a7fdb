"""The merchants' purchase security module with the purse's purchase master in a key
provider: each card's DPK and the purchase's SESPK derived there, MAC1 made and the card's
MAC2 checked there.

It is a :class:`~host.points.security_module.PurchaseSecurityModule` like
:class:`~host.points.SoftwarePurchaseSAM` (same numbering, same errors), so a terminal
spends points with either. Like a PSAM it keeps the session key of its latest MAC1 — a
session object of the token — until the next one or :meth:`close`.
"""

from __future__ import annotations

import datetime as _dt
import hmac
from dataclasses import dataclass

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.purse import PurseScheme, transaction_time
from host.points.errors import PointsUsageError, PurseMACError
from host.points.messages import PurchaseInit
from host.points.security_module import PurchaseAuthorization, check_purchase, check_terminal

from .load_host import check_key_index
from .provider import HeldKey, KeyProvider
from .schemes import make_purse_session_key, purse_card_key, purse_mac_under

__all__ = ["ProviderPurchaseSAM"]

PURCHASE = TransactionType.PURCHASE


@dataclass
class _Pending:
    scheme: PurseScheme
    sespk: HeldKey
    amount: int


class ProviderPurchaseSAM:
    """Authorises purchases with the ``purse_purchase`` master of a provider."""

    def __init__(self, provider: KeyProvider, terminal_id: bytes, *,
                 master: str = "purse_purchase", next_terminal_seq: int = 1, key_index: int = 1,
                 key_version: int = 1) -> None:
        check_terminal(terminal_id, next_terminal_seq)
        self._provider = provider
        self._terminal_id = bytes(terminal_id)
        self._master = master
        self._index = (key_index, key_version)
        self.next_terminal_seq = next_terminal_seq
        self._pending: _Pending | None = None

    def __repr__(self) -> str:
        return f"ProviderPurchaseSAM({self._provider!r}, terminal {self._terminal_id.hex().upper()})"

    @property
    def terminal_id(self) -> bytes:
        return self._terminal_id

    def key_index(self, card_identity: str, purse: Purse) -> int:
        return self._index[0]

    def authorize_purchase(self, card_identity: str, init: PurchaseInit,
                           when: _dt.datetime) -> PurchaseAuthorization:
        check_purchase(init, self._terminal_id, self.next_terminal_seq)
        provider, seq = self._provider, self.next_terminal_seq
        master = provider.key(self._master)
        scheme = PurseScheme(master.algorithm)
        check_key_index(init, self._index, scheme)
        block = bytes(init.random) + init.offline_seq.to_bytes(2, "big") + \
            seq.to_bytes(4, "big")[2:]
        self.close()
        with purse_card_key(provider, master, card_identity, init.purse) as dpk:
            sespk = make_purse_session_key(provider, dpk, block)
        self._pending = _Pending(scheme, sespk, init.amount)
        mac1 = purse_mac_under(provider, sespk, scheme.purchase_mac1_data(
            init.amount, PURCHASE, self._terminal_id, transaction_time(when)))
        self.next_terminal_seq = seq + 1
        return PurchaseAuthorization(seq, when, mac1)

    def verify_mac2(self, mac2: bytes) -> None:
        pending = self._pending
        if pending is None:
            raise PointsUsageError("no purchase authorised: nothing to check MAC2 against")
        expected = purse_mac_under(self._provider, pending.sespk,
                                   pending.scheme.purchase_mac2_data(pending.amount))
        if not hmac.compare_digest(expected, bytes(mac2)):
            raise PurseMACError("the card's MAC2 is wrong: the debit is not proven")

    def close(self) -> None:
        """Destroy the session key of the latest purchase."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._provider.discard(pending.sespk)
