"""Typed answers of the purse commands, with the request fields they belong to.

Every INITIALIZE answer carries the request (purse, amount, terminal, key index) next to
the card's fields, so the load host and the terminal's security module compute their
MACs from one object and never from loose arguments that could drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.commands.purse_data import Purse

__all__ = ["LoadInit", "PurchaseInit", "PurseApplication", "TransactionProof"]


@dataclass(frozen=True)
class PurseApplication:
    """The selected purse application: its AID, the card identity, the personalised purses."""

    aid: bytes
    identity: str
    #: purse → algorithm ID of its keys (00 3DES, 04 SM4, 80 AES)
    purses: dict[Purse, int]


@dataclass(frozen=True)
class LoadInit:
    """INITIALIZE FOR LOAD: the request and the card's answer."""

    purse: Purse
    amount: int
    terminal_id: bytes
    key_index: int
    balance: int
    online_seq: int
    key_version: int
    algorithm_id: int
    random: bytes
    mac1: bytes


@dataclass(frozen=True)
class PurchaseInit:
    """INITIALIZE FOR PURCHASE: the request and the card's answer."""

    purse: Purse
    amount: int
    terminal_id: bytes
    key_index: int
    balance: int
    offline_seq: int
    key_version: int
    algorithm_id: int
    random: bytes


@dataclass(frozen=True)
class TransactionProof:
    """GET TRANSACTION PROVE: the movement happened; its MAC2 and TAC."""

    mac: bytes
    tac: bytes
