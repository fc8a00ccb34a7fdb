"""NIST SP 800-108 counter-mode KDF with a CMAC PRF, laid out as GlobalPlatform SCP03 uses it.

SCP03 (GPC 2.3 Amendment D §4.1.5) places the one-byte counter *between* the fixed
prefix and the context, not first as NIST's examples do::

    K_i = CMAC(key, label || 00 || L || i || context),   i = 1, 2, ...
    label = 11 x 00 || derivation constant,   L = output length in bits (2 bytes)

:func:`counter_kdf` is the raw construction (prefix, counter, suffix); :func:`scp03_kdf`
builds the SCP03 prefix. Both work with any CMAC-capable block cipher; SCP03 defines
AES, and the SM4 suite uses the same construction with SM4-CMAC. Both take the key's
cipher from its owner (several derivations from one key) or raw key bytes.
"""

from __future__ import annotations

from apdu_specs.caches import pure_cache
from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, CipherKey, cipher_of
from apdu_specs.crypto.errors import FormatError

__all__ = ["counter_kdf", "scp03_kdf"]


def counter_kdf(
    algorithm: Algorithm, key: CipherKey, before_counter: bytes, after_counter: bytes,
    length: int,
) -> bytes:
    """``length`` bytes of ``CMAC(key, before_counter || i || after_counter)``, i = 1, 2, ..."""
    return _counter_kdf(cipher_of(algorithm, key), before_counter, after_counter, length)


def _counter_kdf(cipher: BlockCipher, before_counter: bytes, after_counter: bytes,
                 length: int) -> bytes:
    blocks = -(-length // cipher.block_size)
    if length <= 0 or blocks > 0xFF:
        raise FormatError(f"KDF output length {length} bytes is out of range")
    if blocks == 1:  # every SCP03 key and cryptogram: one CMAC, no joining
        return cipher.cmac(before_counter + b"\x01" + after_counter)[:length]
    out = b"".join(
        cipher.cmac(before_counter + bytes([i]) + after_counter) for i in range(1, blocks + 1)
    )
    return out[:length]


def scp03_kdf(
    algorithm: Algorithm, key: CipherKey, constant: int, context: bytes, length_bits: int
) -> bytes:
    """SCP03 data derivation: ``length_bits`` bits derived from ``key`` for ``constant``."""
    prefix = _prefix(constant, length_bits)
    return _counter_kdf(cipher_of(algorithm, key), prefix, context, length_bits // 8)


@pure_cache(maxsize=64, typed=True)
def _prefix(constant: int, length_bits: int) -> bytes:
    """label (11 x 00 ‖ constant) ‖ 00 ‖ L: a handful of values, built once each."""
    if not 0 <= constant <= 0xFF:
        raise FormatError(f"derivation constant {constant} does not fit one byte")
    if length_bits <= 0 or length_bits % 8 or length_bits > 0xFFFF:
        raise FormatError(f"KDF output length {length_bits} bits is not a positive byte count")
    return bytes(11) + bytes([constant]) + b"\x00" + length_bits.to_bytes(2, "big")
