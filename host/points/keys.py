"""Purse keys: each card's DLK, DPK and DTK per purse, diversified from issuer master keys.

Diversification (the one definition in the project, modelled on EMV option A):

- ``Y`` = the rightmost 16 digits of *card identity ‖ purse number as two digits*,
  left-padded with zeros, as 8 bytes of BCD — the purse number plays the part of the
  PAN sequence number, so every purse of every card has its own keys and a TAC names
  its purse without a field for it;
- 3DES: ``3DES(MK)[Y] ‖ 3DES(MK)[Y xor FF..FF]`` with odd parity;
- AES, SM4: ``E(MK)[Y ‖ (Y xor FF..FF)]``, one block.

The issuer keeps one master key per key kind: the load master (the points issuer's
load host), the purchase master (in the merchants' security modules) and the TAC master
(the back office). Key objects never show keys in their repr, only key check values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from apdu_specs.caches import pure_cache
from apdu_specs.commands.purse_data import KEY_LENGTH, Purse, encode_identity
from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, CipherKey, KeyCiphers, ecb_encrypt, xor
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.parity import with_odd_parity
from apdu_specs.crypto.purse import PurseScheme

from .errors import PointsUsageError

__all__ = [
    "FixedCardKeys",
    "PurseCardKeys",
    "PurseIssuerKeys",
    "PurseKeySource",
    "diversification_data",
    "diversify_purse_key",
]

_SUITES = (Algorithm.TDES, Algorithm.AES, Algorithm.SM4)
#: how many cards' keys an issuer object keeps (all dropped when full)
_KEPT_CARD_KEYS = 4096


def _check_key(key: bytes, what: str) -> bytes:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_LENGTH:
        raise PointsUsageError(f"{what} must be {KEY_LENGTH} bytes")
    return bytes(key)


def _check_algorithm(algorithm: Algorithm) -> Algorithm:
    if algorithm not in _SUITES:
        raise PointsUsageError(f"purse keys are 3DES, AES or SM4, not {algorithm.value}")
    return algorithm


def _kcvs(algorithm: Algorithm, **keys: bytes) -> str:
    return " ".join(f"{name}={kcv(algorithm, key).hex().upper()}" for name, key in keys.items())


def diversification_data(card_identity: str, purse: Purse) -> bytes:
    """``Y``: 8 BCD bytes from the card identity and the purse number."""
    encode_identity(card_identity)  # validates: 8 to 19 digits
    digits = (card_identity + f"{Purse(purse).value:02d}")[-16:].rjust(16, "0")
    return bytes.fromhex(digits)


def diversify_purse_key(master_key: bytes, card_identity: str, purse: Purse,
                        algorithm: Algorithm) -> bytes:
    """The 16-byte key of ``purse`` on card ``card_identity`` from a 16-byte master key."""
    master_key = _check_key(master_key, "a purse master key")
    y = diversification_data(card_identity, purse)
    return _diversify(master_key, y, _check_algorithm(algorithm))


def _diversify(master_key: CipherKey, y: bytes, algorithm: Algorithm) -> bytes:
    """The derivation itself, for a checked master key (or its cipher), ``Y`` and algorithm."""
    block = y + xor(y, b"\xff" * 8)
    if algorithm is Algorithm.TDES:
        return with_odd_parity(ecb_encrypt(Algorithm.TDES, master_key, block))
    return ecb_encrypt(algorithm, master_key, block)


@dataclass(frozen=True, repr=False)
class PurseCardKeys:
    """One purse's keys on one card, with the key index and version the card stores."""

    algorithm: Algorithm
    dlk: bytes = field(repr=False)
    dpk: bytes = field(repr=False)
    dtk: bytes = field(repr=False)
    key_index: int = 1
    key_version: int = 1

    def __post_init__(self) -> None:
        _check_algorithm(self.algorithm)
        for name in ("dlk", "dpk", "dtk"):
            object.__setattr__(self, name, _check_key(getattr(self, name), name.upper()))
        if not 1 <= self.key_index <= 0xFF or not 0 <= self.key_version <= 0xFF:
            raise PointsUsageError("key index must be 1..255 and key version 0..255")
        object.__setattr__(self, "_ciphers", KeyCiphers(3))

    def cipher(self, name: Literal["dlk", "dpk", "dtk"]) -> BlockCipher:
        """The cipher of one of the keys, kept with them (a terminal serves the same
        cards again and again)."""
        ciphers: KeyCiphers = self.__dict__["_ciphers"]
        return ciphers.of(self.algorithm, getattr(self, name))

    @property
    def scheme(self) -> PurseScheme:
        return PurseScheme(self.algorithm)

    @property
    def algorithm_id(self) -> int:
        return _algorithm_id(self.algorithm)

    def __repr__(self) -> str:
        return (f"PurseCardKeys({self.algorithm.value}, index {self.key_index:02X} "
                f"version {self.key_version:02X}, KCV "
                f"{_kcvs(self.algorithm, dlk=self.dlk, dpk=self.dpk, dtk=self.dtk)})")


@pure_cache(maxsize=8)
def _algorithm_id(algorithm: Algorithm) -> int:
    """The scheme's algorithm ID, asked for every purse of every card personalised."""
    return PurseScheme(algorithm).algorithm_id


@runtime_checkable
class PurseKeySource(Protocol):
    """Whatever can give a card's purse keys: issuer master keys, an HSM, a fixed set."""

    def card_keys(self, card_identity: str, purse: Purse) -> PurseCardKeys:
        """The keys of ``purse`` on the card ``card_identity``."""
        ...


@dataclass(frozen=True, repr=False)
class PurseIssuerKeys:
    """The alliance's purse master keys; every card key is diversified from them."""

    algorithm: Algorithm
    load_master: bytes = field(repr=False)
    purchase_master: bytes = field(repr=False)
    tac_master: bytes = field(repr=False)
    key_index: int = 1
    key_version: int = 1

    def __post_init__(self) -> None:
        _check_algorithm(self.algorithm)
        for name in ("load_master", "purchase_master", "tac_master"):
            object.__setattr__(self, name, _check_key(getattr(self, name), name))
        # What the issuer derives stays with it: its master keys' ciphers and the card
        # keys it made last (a terminal loads the same cards all day).
        object.__setattr__(self, "_masters", KeyCiphers(3))
        object.__setattr__(self, "_card_keys", {})

    def card_keys(self, card_identity: str, purse: Purse) -> PurseCardKeys:
        made: dict[tuple[str, Purse], PurseCardKeys] = self.__dict__["_card_keys"]
        purse = Purse(purse)
        found = made.get((card_identity, purse))
        if found is None:
            found = self._diversified(card_identity, purse)
            if len(made) >= _KEPT_CARD_KEYS:
                made.clear()  # bounded; simpler and thread-safe where an LRU is neither
            made[card_identity, purse] = found
        return found

    def _diversified(self, card_identity: str, purse: Purse) -> PurseCardKeys:
        """The master keys and algorithm were checked when the issuer was made (it is
        frozen), so only the card identity is checked here, once for the three keys."""
        y = diversification_data(card_identity, purse)
        masters: KeyCiphers = self.__dict__["_masters"]
        algorithm = self.algorithm

        def div(master: bytes) -> bytes:
            return _diversify(masters.of(algorithm, master), y, algorithm)

        return PurseCardKeys(algorithm, div(self.load_master), div(self.purchase_master),
                             div(self.tac_master), self.key_index, self.key_version)

    def __repr__(self) -> str:
        kcvs = _kcvs(self.algorithm, load=self.load_master, purchase=self.purchase_master,
                     tac=self.tac_master)
        return f"PurseIssuerKeys({self.algorithm.value}, KCV {kcvs})"


@dataclass(frozen=True, repr=False)
class FixedCardKeys:
    """Keys given per purse for one card, not diversified (published vectors, tests)."""

    keys: dict[Purse, PurseCardKeys]

    def card_keys(self, card_identity: str, purse: Purse) -> PurseCardKeys:
        try:
            return self.keys[Purse(purse)]
        except (KeyError, ValueError):
            raise PointsUsageError(f"no keys for the {purse!r} purse") from None

    def __repr__(self) -> str:
        return f"FixedCardKeys({', '.join(p.label for p in self.keys)})"
