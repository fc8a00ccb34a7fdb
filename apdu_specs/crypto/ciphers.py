"""Block ciphers (AES, SM4, 3DES, single DES) in ECB and CBC mode, and CMAC.

Everything is built on ``cryptography``; nothing here implements a block cipher.

Who keeps a cipher: creating a ``cryptography`` cipher context costs 4–10 µs while feeding
an existing one costs 0.3–0.5 µs, and the secure-channel and purse hot paths encrypt a few
blocks per APDU under the same few keys. A :class:`BlockCipher` keeps long-lived ECB and
CBC contexts for one key; whoever owns the key keeps its cipher — a key set, a session, a
card's keys, a verifier — through a :class:`KeyCiphers`, and the contexts (with the key
schedule inside them) go when the owner goes. Nothing at module level holds a key. The
functions below take a :data:`CipherKey`: the owner's cipher, or raw key bytes for a key
used once (a throw-away context, nothing kept).

For CBC a ``BlockCipher`` tracks the context's chaining block so that any IV can be applied
to the first block (``C1 = E(P1 xor IV)`` no matter what the context chained before). Each
``BlockCipher`` serialises its own use with a lock, so an owner may share it between threads.

3DES always reaches ``cryptography`` as a 24-byte key (``K1||K2||K1`` for a 16-byte
key, ``K||K||K`` for single DES) through the ``decrepit`` module, so no deprecation
warning fires.
"""

from __future__ import annotations

import threading
from enum import Enum

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

from apdu_specs.crypto.errors import DataLengthError, KeyLengthError, UnsupportedAlgorithmError

__all__ = [
    "Algorithm",
    "BlockCipher",
    "CipherKey",
    "KeyCiphers",
    "cbc_decrypt",
    "cbc_encrypt",
    "check_key",
    "cipher_of",
    "cmac_of",
    "ecb_decrypt",
    "ecb_encrypt",
    "xor",
]


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

    The owner of the key keeps it (see :class:`KeyCiphers`); the repr never shows the key.
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
        "key_size",
    )

    def __init__(self, algorithm: Algorithm, key: bytes) -> None:
        self.algorithm = algorithm
        self.block_size = algorithm.block_size
        self.key_size = len(key)
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


#: a raw key (used once: a throw-away context) or the cipher its owner keeps for it
CipherKey = bytes | BlockCipher


def cipher_of(algorithm: Algorithm, key: CipherKey) -> BlockCipher:
    """The owner's cipher when given one (it must be for ``algorithm``), else a throw-away
    cipher for the raw ``key``."""
    if isinstance(key, BlockCipher):
        if key.algorithm is not algorithm:
            raise UnsupportedAlgorithmError(
                f"a {key.algorithm.value} cipher cannot serve {algorithm.value}")
        return key
    return BlockCipher(algorithm, key)


class KeyCiphers:
    """The ciphers of the keys one owner holds, each made on first use.

    An owner (a key set, a session, a card's keys, a verifier) keeps one of these and asks
    it for the ciphers of its own keys, so the contexts go when the owner goes. At most
    ``limit`` ciphers are kept (all are dropped when a new one would pass the limit), so an
    owner whose keys keep changing stays bounded. Copies and pickles of the owner start
    with an empty one.
    """

    __slots__ = ("_ciphers", "_limit")

    def __init__(self, limit: int = 4) -> None:
        if limit <= 0:
            raise ValueError("a cipher cache must be bounded")
        self._ciphers: dict[tuple[Algorithm, bytes], BlockCipher] = {}
        self._limit = limit

    def __repr__(self) -> str:
        return f"KeyCiphers({len(self._ciphers)} of {self._limit})"

    def __len__(self) -> int:
        return len(self._ciphers)

    def __reduce__(self) -> tuple[type[KeyCiphers], tuple[int]]:
        return KeyCiphers, (self._limit,)

    def of(self, algorithm: Algorithm, key: bytes) -> BlockCipher:
        """The cipher of ``key`` (one of the owner's keys) under ``algorithm``."""
        ciphers = self._ciphers
        cipher = ciphers.get((algorithm, key))
        if cipher is None:
            cipher = BlockCipher(algorithm, key)
            if len(ciphers) >= self._limit:
                ciphers.clear()  # bounded; simpler and thread-safe where an LRU is neither
            ciphers[(algorithm, bytes(key))] = cipher
        return cipher

    def clear(self) -> None:
        """Drop every cipher (the owner's keys were replaced)."""
        self._ciphers.clear()


#: ECB carries no state (no IV), so one mode object serves every throw-away context
_ECB = modes.ECB()


def ecb_encrypt(algorithm: Algorithm, key: CipherKey, data: bytes) -> bytes:
    """Encrypt whole blocks in ECB mode."""
    if isinstance(key, BlockCipher):
        return cipher_of(algorithm, key).encrypt_ecb(data)
    # a key used once: a bare context is cheaper than a BlockCipher around it
    _check_blocks(algorithm, data)
    return Cipher(_primitive(algorithm, bytes(key)), _ECB).encryptor().update(data)


def cmac_of(algorithm: Algorithm, key: CipherKey, data: bytes) -> bytes:
    """CMAC (NIST SP 800-38B) of ``data``, one full block, under the owner's cipher or a
    raw key."""
    if isinstance(key, BlockCipher):
        return cipher_of(algorithm, key).cmac(data)
    # a key used once (a session key): a bare context is cheaper than a BlockCipher around it
    context = _cmac.CMAC(_primitive(algorithm, bytes(key)))
    context.update(data)
    return context.finalize()


def ecb_decrypt(algorithm: Algorithm, key: CipherKey, data: bytes) -> bytes:
    """Decrypt whole blocks in ECB mode."""
    return cipher_of(algorithm, key).decrypt_ecb(data)


def cbc_encrypt(algorithm: Algorithm, key: CipherKey, data: bytes,
                iv: bytes | None = None) -> bytes:
    """Encrypt whole blocks in CBC mode (IV of zeros unless given)."""
    return cipher_of(algorithm, key).encrypt_cbc(data, iv)


def cbc_decrypt(algorithm: Algorithm, key: CipherKey, data: bytes,
                iv: bytes | None = None) -> bytes:
    """Decrypt whole blocks in CBC mode (IV of zeros unless given)."""
    return cipher_of(algorithm, key).decrypt_cbc(data, iv)
