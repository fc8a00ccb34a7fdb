"""The points issuer's load host with its purse masters in a key provider: MAC1 checked,
MAC2 made and the TAC verified where the keys are (each card's DLK and DTK derived there for
the call and destroyed after it).

It answers like :class:`host.points.LoadHost` (same :class:`LoadAuthorization`, same errors),
so :meth:`host.points.PointsClient.load` takes either.
"""

from __future__ import annotations

import datetime as _dt
import hmac

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.purse import PurseScheme, transaction_time
from host.points.errors import KeyMismatchError, PointsUsageError, PurseMACError
from host.points.load_host import LoadAuthorization
from host.points.messages import LoadInit, PurchaseInit
from host.points.records import PurseRecord

from .provider import KeyProvider
from .schemes import purse_card_key, purse_load_mac, purse_tac

__all__ = ["ProviderLoadHost", "check_key_index"]

LOAD = TransactionType.LOAD


class ProviderLoadHost:
    """Authorises loads with the ``purse_load`` and ``purse_tac`` masters of a provider."""

    def __init__(self, provider: KeyProvider, *, load_master: str = "purse_load",
                 tac_master: str = "purse_tac", key_index: int = 1, key_version: int = 1) -> None:
        self._provider = provider
        self._names = (load_master, tac_master)
        self._index = (key_index, key_version)

    def __repr__(self) -> str:
        return f"ProviderLoadHost({self._provider!r})"

    def key_index(self, card_identity: str, purse: Purse) -> int:
        """The key index INITIALIZE FOR LOAD must name (the same for every card)."""
        return self._index[0]

    def authorize(self, card_identity: str, init: LoadInit,
                  when: _dt.datetime) -> LoadAuthorization:
        """Check MAC1 and answer MAC2; :class:`PurseMACError` for a card that is not genuine."""
        provider = self._provider
        master = provider.key(self._names[0])
        scheme = PurseScheme(master.algorithm)
        check_key_index(init, self._index, scheme)
        mac1_data = scheme.load_mac1_data(init.balance, init.amount, LOAD, init.terminal_id)
        mac2_data = scheme.load_mac2_data(init.amount, LOAD, init.terminal_id,
                                          transaction_time(when))
        with purse_card_key(provider, master, card_identity, init.purse) as dlk:
            mac1 = purse_load_mac(provider, dlk, init.random, init.online_seq, mac1_data)
            if not hmac.compare_digest(mac1, bytes(init.mac1)):
                raise PurseMACError(f"card {card_identity}: MAC1 is wrong (not a genuine card, "
                                    "or not the balance it claims)")
            if init.balance + init.amount > 0xFFFFFFFF:
                raise PointsUsageError("the load would overflow a 4-byte balance")
            mac2 = purse_load_mac(provider, dlk, init.random, init.online_seq, mac2_data)
        return LoadAuthorization(card_identity, init, when, mac2)

    def confirm(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        """The load's record once its TAC checks; :class:`PurseMACError` otherwise."""
        record = authorization.record(tac)
        master = self._provider.key(self._names[1])
        scheme = PurseScheme(master.algorithm)
        data = scheme.load_tac_data(record.balance_after, record.card_seq, record.amount, LOAD,
                                    record.terminal_id, record.time_bytes)
        expected = purse_tac(self._provider, master, authorization.card_identity, record.purse,
                             data)
        if not hmac.compare_digest(expected, bytes(tac)):
            raise PurseMACError(f"card {authorization.card_identity}: the load's TAC is wrong")
        return record


def check_key_index(init: LoadInit | PurchaseInit, index: tuple[int, int], scheme: PurseScheme
                    ) -> None:
    """:class:`KeyMismatchError` unless the card used the key index, version and algorithm
    the host's masters are for."""
    card = (init.key_index, init.key_version, init.algorithm_id)
    host = (*index, scheme.algorithm_id)
    if card != host:
        raise KeyMismatchError(
            f"{init.purse.label} purse: the card used key index/version/algorithm "
            f"{'/'.join(f'{v:02X}' for v in card)}, the host has "
            f"{'/'.join(f'{v:02X}' for v in host)}")
