"""Message authentication codes built on :mod:`apdu_specs.crypto.ciphers`.

- :func:`cmac`: CMAC (NIST SP 800-38B, ISO/IEC 9797-1 MAC algorithm 5) with AES, SM4,
  3DES or DES; SCP03, the AES/SM4 purse and the AES EMV cryptograms use it.
- :func:`cbc_mac`: ISO/IEC 9797-1 MAC algorithm 1 (plain CBC-MAC) with any block cipher;
  SCP02 cryptograms (3DES) and the PBOC purse MACs (single DES) use it.
- :func:`retail_mac`: ISO/IEC 9797-1 MAC algorithm 3 (single-DES CBC, then 3DES on the last
  block); EMV 3DES cryptograms, SCP02 C-MAC and the Visa CVV use it.
- :func:`pboc_mac`: the PBOC purse MAC, single-DES CBC-MAC with method 2, leftmost 4 bytes.

Results are returned untruncated except where the scheme defines a length; callers
compare received values with :func:`check_mac`, which is constant-time and raises.
"""

from __future__ import annotations

import hmac

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, CipherKey, cipher_of, cmac_of
from apdu_specs.crypto.errors import KeyLengthError, MACError, VerificationError
from apdu_specs.crypto.padding import Padding, pad

__all__ = ["cbc_mac", "check_mac", "cmac", "pboc_mac", "retail_mac"]


def cmac(algorithm: Algorithm, key: CipherKey, data: bytes) -> bytes:
    """CMAC of ``data``: one full block (16 bytes for AES/SM4, 8 for DES/3DES)."""
    return cmac_of(algorithm, key, data)


def cbc_mac(
    algorithm: Algorithm,
    key: CipherKey,
    data: bytes,
    *,
    padding: Padding = Padding.METHOD_2,
    iv: bytes | None = None,
) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 1: the last CBC block over the padded data."""
    cipher = cipher_of(algorithm, key)
    return cipher.encrypt_cbc(pad(data, cipher.block_size, padding), iv)[-cipher.block_size :]


def retail_mac(
    key: bytes | tuple[BlockCipher, BlockCipher],
    data: bytes,
    *,
    padding: Padding = Padding.METHOD_2,
    iv: bytes | None = None,
) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with a 16-byte key ``KA||KB``; 8 bytes.

    Single-DES CBC with KA over every block, then ``DES_KA(DES^-1_KB(h))`` on the last
    chaining value. ``key`` may be the single-DES ciphers of KA and KB that their owner
    keeps (a session MACs every command with the same key).
    """
    if isinstance(key, tuple):
        cipher_a, cipher_b = key
    else:
        if len(key) != 16:
            raise KeyLengthError(
                f"retail MAC key must be 16 bytes (KA||KB), got {len(key)} bytes")
        cipher_a, cipher_b = BlockCipher(Algorithm.DES, key[:8]), BlockCipher(Algorithm.DES, key[8:])
    h = cbc_mac(Algorithm.DES, cipher_a, data, padding=padding, iv=iv)
    return cipher_a.encrypt_ecb(cipher_b.decrypt_ecb(h))


def pboc_mac(key: CipherKey, data: bytes, iv: bytes | None = None) -> bytes:
    """PBOC purse MAC: single-DES CBC-MAC (IV zeros unless given, method 2), 4 bytes."""
    return cbc_mac(Algorithm.DES, key, data, padding=Padding.METHOD_2, iv=iv)[:4]


def check_mac(
    expected: bytes,
    received: bytes,
    *,
    what: str = "MAC",
    error: type[VerificationError] = MACError,
) -> None:
    """Raise ``error`` unless ``received`` equals ``expected`` (compared in constant time)."""
    if not hmac.compare_digest(expected, received):
        raise error(f"{what} verification failed")

