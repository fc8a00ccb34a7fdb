"""Algorithm suites: what a card profile selects (AES-128 by default, SM4, or legacy 3DES).

A suite bundles the block cipher with the schemes defined for it, so card and host code
write ``suite.mac(key, data)`` or ``suite.purse.load_mac1(...)`` and never branch on the
algorithm themselves:

======================  ====================  ====================  ======================
                        AES                   SM4                   TDES
======================  ====================  ====================  ======================
block / key length      16 / 16 (24, 32)      16 / 16               8 / 16 (24)
``mac``                 AES-CMAC (16)         SM4-CMAC (16)         retail MAC (8)
``kdf``                 SCP03 KDF             SCP03 KDF with SM4    SP 800-108, 3DES-CMAC
``kcv``                 E(K, 01..)[:3]        E(K, 00..)[:3]        E(K, 00..)[:3]
``diversify``           KDF3                  KDF3 with SM4         EMV CPS
secure channel          SCP03                 SCP03 with SM4        SCP02
``purse`` / ``emv``     AES variants          SM4 variants          PBOC 2.0 / EMV 3DES
======================  ====================  ====================  ======================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from apdu_specs.crypto import ciphers
from apdu_specs.crypto.ciphers import Algorithm, CipherKey, check_key
from apdu_specs.crypto.diversify import Diversification, KeyType, diversify
from apdu_specs.crypto.emv import EMVScheme
from apdu_specs.crypto.errors import UnsupportedAlgorithmError
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.kdf import scp03_kdf
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.crypto.mac import cmac, retail_mac
from apdu_specs.crypto.padding import Padding, pad, unpad_method2
from apdu_specs.crypto.purse import PurseScheme

__all__ = [
    "AES_SUITE",
    "SM4_SUITE",
    "SUITES",
    "TDES_SUITE",
    "AlgorithmSuite",
    "SecureChannelProtocol",
    "suite_named",
]


class SecureChannelProtocol(Enum):
    """The GlobalPlatform secure channel a suite's security domain speaks."""

    SCP02 = "SCP02"
    SCP03 = "SCP03"


@dataclass(frozen=True, repr=False)
class AlgorithmSuite:
    """One algorithm with every scheme the project defines for it."""

    name: str
    algorithm: Algorithm
    key_length: int
    diversification: Diversification
    secure_channel: SecureChannelProtocol
    purse: PurseScheme
    emv: EMVScheme

    def __repr__(self) -> str:
        return f"AlgorithmSuite({self.name!r})"

    @property
    def block_size(self) -> int:
        """Block length in bytes."""
        return self.algorithm.block_size

    @property
    def key_lengths(self) -> tuple[int, ...]:
        """Every key length the algorithm accepts (``key_length`` is the default)."""
        return self.algorithm.key_lengths

    def check_key(self, key: bytes) -> None:
        """Raise :class:`KeyLengthError` unless ``key`` suits this algorithm."""
        check_key(self.algorithm, key)

    def generate_key(self, random: Callable[[int], bytes] = os.urandom) -> bytes:
        """A fresh key of the default length."""
        return random(self.key_length)

    def encrypt_ecb(self, key: CipherKey, data: bytes) -> bytes:
        """ECB encryption of whole blocks."""
        return ciphers.ecb_encrypt(self.algorithm, key, data)

    def decrypt_ecb(self, key: CipherKey, data: bytes) -> bytes:
        """ECB decryption of whole blocks."""
        return ciphers.ecb_decrypt(self.algorithm, key, data)

    def encrypt_cbc(self, key: CipherKey, data: bytes, iv: bytes | None = None) -> bytes:
        """CBC encryption of whole blocks (IV of zeros unless given)."""
        return ciphers.cbc_encrypt(self.algorithm, key, data, iv)

    def decrypt_cbc(self, key: CipherKey, data: bytes, iv: bytes | None = None) -> bytes:
        """CBC decryption of whole blocks (IV of zeros unless given)."""
        return ciphers.cbc_decrypt(self.algorithm, key, data, iv)

    def pad(self, data: bytes, method: Padding = Padding.METHOD_2) -> bytes:
        """ISO/IEC 9797-1 padding to this suite's block size."""
        return pad(data, self.block_size, method)

    def unpad(self, data: bytes) -> bytes:
        """Strict removal of method 2 padding."""
        return unpad_method2(data, self.block_size)

    def mac(self, key: bytes, data: bytes) -> bytes:
        """The suite's general-purpose MAC (CMAC, or the retail MAC for 3DES)."""
        if self.algorithm is Algorithm.TDES:
            return retail_mac(key, data)
        return cmac(self.algorithm, key, data)

    def kdf(self, key: bytes, constant: int, context: bytes, length_bits: int) -> bytes:
        """The SCP03-layout counter KDF with this suite's CMAC."""
        return scp03_kdf(self.algorithm, key, constant, context, length_bits)

    def kcv(self, key: bytes) -> bytes:
        """The 3-byte key check value in this suite's convention."""
        return kcv(self.algorithm, key)

    def diversify(self, master_key: bytes, kdd: bytes, key_type: KeyType) -> bytes:
        """A card key diversified from ``master_key`` with the suite's scheme."""
        return diversify(self.diversification, master_key, kdd, key_type, self.algorithm)

    def static_keys(self, enc: bytes, mac: bytes, dek: bytes) -> StaticKeys:
        """A secure-channel key set of this suite."""
        return StaticKeys(enc, mac, dek, self.algorithm)

    def diversified_static_keys(self, master_key: bytes, kdd: bytes) -> StaticKeys:
        """The card's secure-channel key set diversified from ``master_key``."""
        return StaticKeys.from_master(master_key, kdd, self.diversification, self.algorithm)


def _suite(
    name: str, algorithm: Algorithm, diversification: Diversification, scp: SecureChannelProtocol
) -> AlgorithmSuite:
    return AlgorithmSuite(
        name=name,
        algorithm=algorithm,
        key_length=16,
        diversification=diversification,
        secure_channel=scp,
        purse=PurseScheme(algorithm),
        emv=EMVScheme(algorithm),
    )


AES_SUITE = _suite("AES", Algorithm.AES, Diversification.KDF3, SecureChannelProtocol.SCP03)
SM4_SUITE = _suite("SM4", Algorithm.SM4, Diversification.KDF3, SecureChannelProtocol.SCP03)
TDES_SUITE = _suite("TDES", Algorithm.TDES, Diversification.EMV_CPS, SecureChannelProtocol.SCP02)

SUITES = {suite.name: suite for suite in (AES_SUITE, SM4_SUITE, TDES_SUITE)}
"""Suites by name; AES is the default of a new card profile."""


def suite_named(name: str) -> AlgorithmSuite:
    """The suite called ``name`` (case-insensitive; ``3DES`` is accepted for TDES)."""
    key = name.strip().upper().replace("3DES", "TDES")
    try:
        return SUITES[key]
    except KeyError:
        known = ", ".join(SUITES)
        raise UnsupportedAlgorithmError(f"unknown algorithm suite {name!r} (known: {known})") from None
