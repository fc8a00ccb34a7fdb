"""The points issuer's load host: checks the card's MAC1, answers MAC2, verifies the TAC.

A load is authorised only for a genuine card: MAC1 proves the card holds the DLK and
states the balance it loads onto. MAC2 tells the card the issuer approves exactly this
amount at this terminal and time. The TAC the card answers proves the credit to the
back office. The host keeps no state between the two calls: everything it needs travels
in the :class:`LoadAuthorization`, which carries no key material.
"""

from __future__ import annotations

import datetime as _dt
import hmac
from dataclasses import dataclass
from typing import Protocol

from apdu_specs.commands.purse_data import Purse, TransactionType
from apdu_specs.crypto.errors import MACError
from apdu_specs.crypto.purse import transaction_time

from .errors import KeyMismatchError, PointsUsageError, PurseMACError
from .keys import PurseCardKeys, PurseKeySource
from .messages import LoadInit, PurchaseInit
from .records import PurseRecord, expected_tac

__all__ = ["LoadAuthority", "LoadAuthorization", "LoadHost", "check_card_keys"]

LOAD = TransactionType.LOAD


@dataclass(frozen=True)
class LoadAuthorization:
    """The issuer's go-ahead for one load: MAC2 and the date-time it covers."""

    card_identity: str
    init: LoadInit
    when: _dt.datetime
    mac2: bytes

    @property
    def time_bytes(self) -> bytes:
        return transaction_time(self.when)

    def record(self, tac: bytes) -> PurseRecord:
        """The movement this authorisation produces, with the card's TAC."""
        init = self.init
        return PurseRecord(self.card_identity, init.purse, LOAD, init.amount,
                           init.balance + init.amount, init.online_seq, init.terminal_id, 0,
                           self.when, tac)


def check_card_keys(keys: PurseCardKeys, init: LoadInit | PurchaseInit) -> None:
    """Raise :class:`KeyMismatchError` unless the card used these keys' index, version and
    algorithm."""
    card = (init.key_index, init.key_version, init.algorithm_id)
    host = (keys.key_index, keys.key_version, keys.algorithm_id)
    if card != host:
        raise KeyMismatchError(
            f"{init.purse.label} purse: the card used key index/version/algorithm "
            f"{'/'.join(f'{v:02X}' for v in card)}, the host has "
            f"{'/'.join(f'{v:02X}' for v in host)}")


class LoadAuthority(Protocol):
    """Whoever authorises loads: :class:`LoadHost` over purse keys, or
    :class:`host.hsm.load_host.ProviderLoadHost` over masters in a key provider."""

    def key_index(self, card_identity: str, purse: Purse) -> int: ...

    def authorize(self, card_identity: str, init: LoadInit,
                  when: _dt.datetime) -> LoadAuthorization: ...

    def confirm(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord: ...


class LoadHost:
    """Authorises loads with keys from any :class:`PurseKeySource` (master keys, an HSM)."""

    def __init__(self, keys: PurseKeySource) -> None:
        self._keys = keys

    def key_index(self, card_identity: str, purse: Purse) -> int:
        """The key index INITIALIZE FOR LOAD must name for this card's purse."""
        return self._keys.card_keys(card_identity, purse).key_index

    def authorize(self, card_identity: str, init: LoadInit,
                  when: _dt.datetime) -> LoadAuthorization:
        """Check MAC1 and answer MAC2; :class:`PurseMACError` for a card that is not genuine."""
        keys = self._keys.card_keys(card_identity, init.purse)
        check_card_keys(keys, init)
        scheme = keys.scheme
        seslk = scheme.load_session_key(keys.cipher("dlk"), init.random, init.online_seq)
        try:
            scheme.verify(seslk, scheme.load_mac1_data(init.balance, init.amount, LOAD,
                                                       init.terminal_id), init.mac1, what="MAC1")
        except MACError:
            raise PurseMACError(f"card {card_identity}: MAC1 is wrong (not a genuine card, "
                                "or not the balance it claims)") from None
        if init.balance + init.amount > 0xFFFFFFFF:
            raise PointsUsageError("the load would overflow a 4-byte balance")
        mac2 = scheme.load_mac2(seslk, init.amount, LOAD, init.terminal_id, transaction_time(when))
        return LoadAuthorization(card_identity, init, when, mac2)

    def confirm(self, authorization: LoadAuthorization, tac: bytes) -> PurseRecord:
        """The load's record once its TAC checks; :class:`PurseMACError` otherwise."""
        record = authorization.record(tac)
        keys = self._keys.card_keys(authorization.card_identity, record.purse)
        if not hmac.compare_digest(expected_tac(record, keys.dtk, keys.algorithm), bytes(tac)):
            raise PurseMACError(f"card {authorization.card_identity}: the load's TAC is wrong")
        return record
