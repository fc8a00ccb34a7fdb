"""GlobalPlatform card key diversification from a master key and the card's KDD.

The KDD (key diversification data) is the 10-byte field that opens the INITIALIZE
UPDATE response; the key type byte ``kt`` is 01 for ENC, 02 for MAC, 03 for DEK.

- EMV CPS (3DES): ``3DES-ECB(MK, KDD[4..9] || F0 || kt || KDD[4..9] || 0F || kt)``.
- VISA2 (3DES): as EMV CPS with ``KDD[0..1] || KDD[4..7]`` as the six card bytes.
- KDF3 (AES, or SM4 with the same construction): ``CMAC(MK, i || 00 00 00 || kt || 00 || KDD)``
  for i = 1, 2, ... concatenated to the master key's length. This is the scheme of the
  GlobalPlatformPro tool; it has no authoritative public specification, so treat it as
  an interoperability option.
"""

from __future__ import annotations

from enum import Enum, IntEnum

from apdu_specs.crypto.ciphers import Algorithm, CipherKey, cipher_of, ecb_encrypt
from apdu_specs.crypto.errors import DataLengthError, UnsupportedAlgorithmError
from apdu_specs.crypto.kdf import counter_kdf

__all__ = ["Diversification", "KeyType", "diversify", "emv_cps", "kdf3", "visa2"]

KDD_LENGTH = 10


class KeyType(IntEnum):
    """Key type byte of the diversification data."""

    ENC = 0x01
    MAC = 0x02
    DEK = 0x03


class Diversification(Enum):
    """A diversification scheme."""

    EMV_CPS = "emv"
    VISA2 = "visa2"
    KDF3 = "kdf3"


def _check_kdd(kdd: bytes) -> None:
    if len(kdd) != KDD_LENGTH:
        raise DataLengthError(f"KDD must be {KDD_LENGTH} bytes, got {len(kdd)} bytes")


def _des_template(master_key: CipherKey, card_bytes: bytes, key_type: KeyType) -> bytes:
    kt = bytes([key_type])
    block = card_bytes + b"\xf0" + kt + card_bytes + b"\x0f" + kt
    return ecb_encrypt(Algorithm.TDES, master_key, block)


def emv_cps(master_key: CipherKey, kdd: bytes, key_type: KeyType) -> bytes:
    """EMV CPS diversification of a 16-byte 3DES master key; a 16-byte card key."""
    _check_kdd(kdd)
    return _des_template(master_key, kdd[4:10], key_type)


def visa2(master_key: CipherKey, kdd: bytes, key_type: KeyType) -> bytes:
    """VISA2 diversification of a 16-byte 3DES master key; a 16-byte card key."""
    _check_kdd(kdd)
    return _des_template(master_key, kdd[0:2] + kdd[4:8], key_type)


def kdf3(
    master_key: CipherKey, kdd: bytes, key_type: KeyType, algorithm: Algorithm = Algorithm.AES
) -> bytes:
    """KDF3 diversification (CMAC counter mode); the card key is as long as ``master_key``."""
    _check_kdd(kdd)
    if algorithm not in (Algorithm.AES, Algorithm.SM4):
        raise UnsupportedAlgorithmError(f"KDF3 is defined for AES and SM4, not {algorithm.value}")
    suffix = b"\x00\x00\x00" + bytes([key_type]) + b"\x00" + kdd
    cipher = cipher_of(algorithm, master_key)
    return counter_kdf(algorithm, cipher, b"", suffix, cipher.key_size)


def diversify(
    scheme: Diversification,
    master_key: CipherKey,
    kdd: bytes,
    key_type: KeyType,
    algorithm: Algorithm = Algorithm.AES,
) -> bytes:
    """Diversify with ``scheme``; ``algorithm`` only matters for KDF3. ``master_key`` may be
    the cipher its owner keeps (a run diversifies every card from it)."""
    if scheme is Diversification.EMV_CPS:
        return emv_cps(master_key, kdd, key_type)
    if scheme is Diversification.VISA2:
        return visa2(master_key, kdd, key_type)
    return kdf3(master_key, kdd, key_type, algorithm)
