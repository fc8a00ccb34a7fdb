"""The secure channel protocol of a profile: SCP03 (AES or SM4) or SCP02 (3DES).

Adapters over :mod:`apdu_specs.crypto.scp03` and :mod:`apdu_specs.crypto.scp02`, so the
ISD holds one handshake object and one session object whatever the suite. The DEK a
session uses for PUT KEY values and encrypted DGIs differs: SCP03 uses the key set's
static DEK; SCP02 the session DEK derived from it with the sequence counter.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.scp02 import SCP02CardHandshake
from apdu_specs.crypto.scp02 import derive_session_keys as scp02_session_keys
from apdu_specs.crypto.scp03 import CardHandshake
from apdu_specs.crypto.secure_messaging import SecureMessagingSession

from .keystore import KeySet
from .profile import ISDProfile

__all__ = ["CardSideHandshake", "DataEncryptionKey", "counter_limit", "dek_for", "new_handshake"]


class CardSideHandshake(Protocol):
    def respond_initialize_update(self, host_challenge: bytes) -> bytes: ...

    def verify_external_authenticate(self, cla: int,
                                     fields: Mapping[str, Any]) -> SecureMessagingSession: ...


@dataclass(frozen=True, repr=False)
class DataEncryptionKey:
    """The key that protects PUT KEY values and sensitive STORE DATA in one session."""

    algorithm: Algorithm
    key: bytes
    #: the cipher the key's owner keeps (SCP03: the key set's static DEK), if any
    owned: BlockCipher | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"DataEncryptionKey({self.algorithm.value})"

    @functools.cached_property
    def cipher(self) -> BlockCipher:
        """The DEK's cipher: its key set's (SCP03's static DEK) or, for a session DEK, one
        kept for the session (a personalisation decrypts every sensitive block and key
        under it) and gone with it."""
        return self.owned or BlockCipher(self.algorithm, self.key)


def counter_limit(profile: ISDProfile) -> int:
    """Largest sequence counter the protocol can carry (3 bytes SCP03, 2 bytes SCP02)."""
    return 0xFFFF if profile.suite.scp == 2 else 0xFFFFFF


def new_handshake(profile: ISDProfile, keyset: KeySet, *, kdd: bytes, counter: int,
                  sd_aid: bytes, random: Callable[[int], bytes]) -> CardSideHandshake:
    if profile.suite.scp == 2:
        return SCP02CardHandshake(keyset.keys, kdd=kdd, kvn=keyset.kvn, sequence_counter=counter,
                                  random=random, icv_encryption=bool(profile.i_parameter & 0x40))
    return CardHandshake(keyset.keys, kdd=kdd, kvn=keyset.kvn, sequence_counter=counter,
                         sd_aid=sd_aid, i_parameter=profile.i_parameter, random=random)


def dek_for(profile: ISDProfile, keyset: KeySet, counter: int) -> DataEncryptionKey:
    if profile.suite.scp == 2:
        return DataEncryptionKey(Algorithm.TDES, scp02_session_keys(keyset.keys, counter).s_dek)
    keys = keyset.keys
    return DataEncryptionKey(keys.algorithm, keys.dek, keys.cipher("dek"))
