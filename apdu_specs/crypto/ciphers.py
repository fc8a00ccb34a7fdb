"""Block ciphers (AES, SM4, 3DES, single DES) in ECB and CBC mode, and CMAC.

Everything is built on ``cryptography``; nothing here implements a block cipher.

Why a cache: creating a ``cryptography`` cipher context costs 4–10 µs while feeding an
existing one costs 0.3–0.5 µs, and the secure-channel and purse hot paths encrypt a few
blocks per APDU under the same few keys. :func:`block_cipher` therefore keeps one
:class:`BlockCipher` per ``(algorithm, key)`` in a bounded LRU. A ``BlockCipher`` keeps
long-lived ECB and CBC contexts; for CBC it tracks the context's chaining block so that
any IV can be applied to the first block (``C1 = E(P1 xor IV)`` no matter what the
context chained before). Each ``BlockCipher`` serialises its own use with a lock, so
the cache is safe to share between threads.

3DES always reaches ``cryptography`` as a 24-byte key (``K1||K2||K1`` for a 16-byte
key, ``K||K||K`` for single DES) through the ``decrepit`` module, so no deprecation
warning fires.
"""

from __future__ import annotations

import functools
import threading
from enum import Enum

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from apdu_specs.crypto.errors import DataLengthError, KeyLengthError

__all__ = [
    "Algorithm",
    "BlockCipher",
    "block_cipher",
    "cbc_decrypt",
    "cbc_encrypt",
    "check_key",
    "clear_cache",
    "ecb_decrypt",
    "ecb_encrypt",
    "ecb_encrypt_once",
    "xor",
]

CACHE_SIZE = 512
"""How many (algorithm, key) pairs keep live cipher contexts."""


class Algorithm(Enum):
    """A block cipher. ``TDES`` is two- or three-key 3DES-EDE; ``DES`` is single DES."""

    AES = "AES"
    SM4 = "SM4"
    TDES = "TDES"
    DES = "DES"

    # Members are singletons compared by identity, so the identity hash agrees with ==;
    # Enum's own __hash__ is a Python call on every cache and table lookup.
    __hash__ = object.__hash__

    @property
    def block_size(self) -> int:
        """Block length in bytes (16 for AES and SM4, 8 for DES and 3DES)."""
        return _BLOCK_SIZES[self]

    @property
    def key_lengths(self) -> tuple[int, ...]:
        """Accepted key lengths in bytes."""
        return _KEY_LENGTHS[self]


_BLOCK_SIZES = {Algorithm.AES: 16, Algorithm.SM4: 16, Algorithm.TDES: 8, Algorithm.DES: 8}
_KEY_LENGTHS = {
    Algorithm.AES: (16, 24, 32),
    Algorithm.SM4: (16,),
    Algorithm.TDES: (16, 24),
    Algorithm.DES: (8,),
}


def check_key(algorithm: Algorithm, key: bytes) -> None:
    """Raise :class:`KeyLengthError` unless ``key`` has a length ``algorithm`` accepts."""
    if len(key) not in algorithm.key_lengths:
        allowed = ", ".join(str(n) for n in algorithm.key_lengths)
        raise KeyLengthError(
            f"{algorithm.value} key must be {allowed} bytes long, got {len(key)} bytes"
        )


def xor(a: bytes, b: bytes) -> bytes:
    """XOR two byte strings of equal length."""
    if len(a) != len(b):
        raise DataLengthError(f"cannot XOR {len(a)} bytes with {len(b)} bytes")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _check_blocks(algorithm: Algorithm, data: bytes) -> None:
    if len(data) % algorithm.block_size:
        raise DataLengthError(f"{algorithm.value} needs a multiple of {algorithm.block_size} "
                              f"bytes, got {len(data)} bytes")


def _primitive(
    algorithm: Algorithm, key: bytes
) -> algorithms.AES | algorithms.SM4 | TripleDES:
    check_key(algorithm, key)
    if algorithm is Algorithm.AES:
        return algorithms.AES(key)
    if algorithm is Algorithm.SM4:
        return algorithms.SM4(key)
    if len(key) == 8:
        return TripleDES(key * 3)
    if len(key) == 16:
        return TripleDES(key + key[:8])
    return TripleDES(key)


class BlockCipher:
    """One key under one algorithm, with reusable ECB/CBC contexts and a CMAC template.

    Build one directly for a throw-away key; use :func:`block_cipher` for the cached one.
    The repr never shows the key.
    """

    __slots__ = (
        "_cbc_dec",
        "_cbc_enc",
        "_cmac",
        "_dec_chain",
        "_ecb_dec",
        "_ecb_enc",
        "_enc_chain",
        "_lock",
        "_primitive",
        "algorithm",
        "block_size",
    )

    def __init__(self, algorithm: Algorithm, key: bytes) -> None:
        self.algorithm = algorithm
        self.block_size = algorithm.block_size
        self._primitive = _primitive(algorithm, bytes(key))
        self._lock = threading.Lock()
        # Contexts are made on first use: a key used only for CBC-MAC or CMAC (one per card
        # on the issuer's side) never pays for an ECB context.
        self._ecb_enc: CipherContext | None = None
        self._ecb_dec: CipherContext | None = None
        self._cbc_enc: CipherContext | None = None
        self._cbc_dec: CipherContext | None = None
        self._enc_chain = bytes(self.block_size)
        self._dec_chain = bytes(self.block_size)
        self._cmac: _cmac.CMAC | None = None

    def __repr__(self) -> str:
        return f"BlockCipher({self.algorithm.value})"

    def _check_blocks(self, data: bytes) -> None:
        _check_blocks(self.algorithm, data)

    def _check_iv(self, iv: bytes | None) -> bytes:
        if iv is None:
            return bytes(self.block_size)
        if len(iv) != self.block_size:
            raise DataLengthError(
                f"{self.algorithm.value} IV must be {self.block_size} bytes, got {len(iv)}"
            )
        return bytes(iv)

    def encrypt_ecb(self, data: bytes) -> bytes:
        """Encrypt whole blocks in ECB mode."""
        self._check_blocks(data)
        with self._lock:
            if self._ecb_enc is None:
                self._ecb_enc = Cipher(self._primitive, modes.ECB()).encryptor()
            return self._ecb_enc.update(data)

    def decrypt_ecb(self, data: bytes) -> bytes:
        """Decrypt whole blocks in ECB mode."""
        self._check_blocks(data)
        with self._lock:
            if self._ecb_dec is None:
                self._ecb_dec = Cipher(self._primitive, modes.ECB()).decryptor()
            return self._ecb_dec.update(data)

    def encrypt_cbc(self, data: bytes, iv: bytes | None = None) -> bytes:
        """Encrypt whole blocks in CBC mode (IV of zeros unless given)."""
        n = self.block_size
        if len(data) % n:
            self._check_blocks(data)  # raises
        if iv is not None:
            iv = self._check_iv(iv)
        if not data:
            return b""
        with self._lock:
            if self._cbc_enc is None:
                self._cbc_enc = Cipher(self._primitive, modes.CBC(self._enc_chain)).encryptor()
            # The live context XORs P1 with its chaining block; pre-cancel that and apply iv
            # (integer XORs: this runs once per MAC on the issuer's clearing path).
            first = int.from_bytes(data[:n], "big") ^ int.from_bytes(self._enc_chain, "big")
            if iv is not None:
                first ^= int.from_bytes(iv, "big")
            out = self._cbc_enc.update(first.to_bytes(n, "big") + data[n:])
            self._enc_chain = out[-n:]
            return out

    def decrypt_cbc(self, data: bytes, iv: bytes | None = None) -> bytes:
        """Decrypt whole blocks in CBC mode (IV of zeros unless given)."""
        n = self.block_size
        if len(data) % n:
            self._check_blocks(data)  # raises
        iv = self._check_iv(iv)
        if not data:
            return b""
        with self._lock:
            if self._cbc_dec is None:
                self._cbc_dec = Cipher(self._primitive, modes.CBC(self._dec_chain)).decryptor()
            out = self._cbc_dec.update(data)
            # The live context XORed D(C1) with its chaining block; swap that for iv
            # (integer XORs: this runs for every command the card decrypts).
            first = (int.from_bytes(out[:n], "big") ^ int.from_bytes(self._dec_chain, "big")
                     ^ int.from_bytes(iv, "big")).to_bytes(n, "big")
            self._dec_chain = data[-n:]
            return first + out[n:]

    def cmac(self, data: bytes) -> bytes:
        """CMAC (NIST SP 800-38B) over ``data``; a full block is returned."""
        with self._lock:
            if self._cmac is None:
                self._cmac = _cmac.CMAC(self._primitive)
            ctx = self._cmac.copy()
        ctx.update(data)
        return ctx.finalize()


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached_block_cipher(algorithm: Algorithm, key: bytes) -> BlockCipher:
    return BlockCipher(algorithm, key)


def block_cipher(algorithm: Algorithm, key: bytes) -> BlockCipher:
    """The cached :class:`BlockCipher` for ``(algorithm, key)`` (LRU of ``CACHE_SIZE``)."""
    if type(key) is not bytes:
        key = bytes(key)
    return _cached_block_cipher(algorithm, key)


def clear_cache() -> None:
    """Drop every cached cipher context (e.g. after keys were replaced)."""
    _cached_block_cipher.cache_clear()


def ecb_encrypt_once(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    """ECB encryption under a key that is used once (the KCV of a fresh per-card key): a
    throw-away context is cheaper than building, caching and evicting a :class:`BlockCipher`."""
    _check_blocks(algorithm, data)
    return Cipher(_primitive(algorithm, bytes(key)), _ECB).encryptor().update(data)


#: ECB carries no state (no IV), so one mode object serves every throw-away context
_ECB = modes.ECB()


def ecb_encrypt(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    """Encrypt whole blocks in ECB mode."""
    return block_cipher(algorithm, key).encrypt_ecb(data)


def ecb_decrypt(algorithm: Algorithm, key: bytes, data: bytes) -> bytes:
    """Decrypt whole blocks in ECB mode."""
    return block_cipher(algorithm, key).decrypt_ecb(data)


def cbc_encrypt(algorithm: Algorithm, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """Encrypt whole blocks in CBC mode (IV of zeros unless given)."""
    return block_cipher(algorithm, key).encrypt_cbc(data, iv)


def cbc_decrypt(algorithm: Algorithm, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    """Decrypt whole blocks in CBC mode (IV of zeros unless given)."""
    return block_cipher(algorithm, key).decrypt_cbc(data, iv)
