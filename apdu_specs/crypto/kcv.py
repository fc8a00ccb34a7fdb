"""Key check values: show a key without showing it.

- AES: ``AES-ECB(key, 16 x 01)[:3]`` — the GlobalPlatform SCP03 convention.
- DES / 3DES: ``E(key, 8 x 00)[:3]`` — the classic payment-HSM convention.
- SM4: no published GlobalPlatform rule exists. This project uses
  ``SM4-ECB(key, 16 x 00)[:3]`` (the "encrypt zeros" convention of payment HSMs)
  by default; pass ``method=KCVMethod.ONES`` for the AES-style variant.
"""

from __future__ import annotations

from enum import Enum

from apdu_specs.crypto.ciphers import Algorithm, CipherKey, ecb_encrypt
from apdu_specs.crypto.errors import FormatError

__all__ = ["KCVMethod", "kcv", "kcv_block"]


class KCVMethod(Enum):
    """The constant block that is encrypted."""

    ZEROS = 0x00
    ONES = 0x01


_DEFAULT_METHOD = {
    Algorithm.AES: KCVMethod.ONES,
    Algorithm.SM4: KCVMethod.ZEROS,
    Algorithm.TDES: KCVMethod.ZEROS,
    Algorithm.DES: KCVMethod.ZEROS,
}


def kcv(
    algorithm: Algorithm, key: CipherKey, *, method: KCVMethod | None = None, length: int = 3
) -> bytes:
    """The leftmost ``length`` bytes of ``key`` encrypting a constant block.

    A key asked for again and again keeps its KCV with its owner (a key set, a key file):
    nothing here remembers a key."""
    if not 1 <= length <= algorithm.block_size:
        raise FormatError(f"KCV length must be 1..{algorithm.block_size}, got {length}")
    return ecb_encrypt(algorithm, key, kcv_block(algorithm, method))[:length]


def kcv_block(algorithm: Algorithm, method: KCVMethod | None = None) -> bytes:
    """The constant block encrypted for a KCV (for a key held where only encryption is
    possible: a token computes the KCV itself)."""
    return _BLOCKS[algorithm, method or _DEFAULT_METHOD[algorithm]]


#: the constant block of each algorithm and method, made once (every fresh key asks)
_BLOCKS = {(algorithm, method): bytes([method.value]) * algorithm.block_size
           for algorithm in Algorithm for method in KCVMethod}
