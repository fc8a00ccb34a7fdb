"""One interface to the issuer's master keys, wherever they are kept.

A :class:`KeyProvider` hands out :class:`HeldKey` references, never values, and does the
few operations every scheme of the project is built from: *derive* a key as the ECB
encryption of diversification data under a parent key (GP EMV CPS, EMV option A, EMV
session keys, the purse's diversification are all this), ECB and CBC encryption, and CMAC.
The schemes themselves (:mod:`host.hsm.schemes`) are written once over this interface, so the
sealed key file and a PKCS#11 token run the same code and must give the same bytes.

- :class:`FileKeyProvider` — the sealed key file of :mod:`host.keystore` (today's keys): a
  held key is a :class:`~apdu_specs.crypto.ciphers.BlockCipher` the provider owns.
- :class:`host.hsm.token.TokenKeyProvider` — a PKCS#11 token: a held key is a key object;
  derived keys are session objects, sensitive and not extractable, destroyed after use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Self

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, xor
from apdu_specs.crypto.kcv import kcv_block
from host.keystore import KeyFile, KeyInfo

from .errors import HSMUnsupportedError, KeyObjectMissingError, WrongKeyTypeError

__all__ = ["LEFT_HALF", "FileKeyProvider", "HeldKey", "KeyProvider", "left_half_name"]

#: the suffix of the companion object holding a double-length 3DES key's left half
LEFT_HALF = ".left"


def left_half_name(name: str) -> str:
    """The label of the companion of the 3DES key ``name``: its left half as a DES key."""
    return name + LEFT_HALF


@dataclass(frozen=True, repr=False)
class HeldKey:
    """A key some provider holds: its name, algorithm, length and the provider's handle."""

    name: str
    algorithm: Algorithm
    length: int
    handle: object = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"HeldKey({self.name}, {self.algorithm.value}-{self.length * 8})"


class KeyProvider(ABC):
    """Where master keys are kept and the operations done with them (see the module doc)."""

    @abstractmethod
    def info(self) -> list[KeyInfo]:
        """Every key by name, algorithm, length and KCV (computed where the key is)."""

    @abstractmethod
    def key(self, name: str, algorithm: Algorithm | None = None) -> HeldKey:
        """The master key ``name``; a typed error when missing or not of ``algorithm``."""

    @abstractmethod
    def derive(self, parent: HeldKey, data: bytes, algorithm: Algorithm | None = None
               ) -> HeldKey:
        """A new key whose value is ``ECB(parent, data)`` (as long as ``data``), of
        ``algorithm`` (the parent's by default)."""

    @abstractmethod
    def encrypt_ecb(self, key: HeldKey, data: bytes) -> bytes:
        """ECB encryption of whole blocks."""

    @abstractmethod
    def encrypt_cbc(self, key: HeldKey, data: bytes, iv: bytes | None = None) -> bytes:
        """CBC encryption of whole blocks (IV of zeros unless given)."""

    @abstractmethod
    def cmac(self, key: HeldKey, data: bytes) -> bytes:
        """CMAC (NIST SP 800-38B), a full block."""

    @abstractmethod
    def discard(self, key: HeldKey) -> None:
        """Forget a derived key (a token destroys the object)."""

    def close(self) -> None:  # noqa: B027 (a file provider has nothing to release)
        """Release the provider's resources (a token session)."""

    def derive_folded(self, parent: HeldKey, data: bytes) -> HeldKey:
        """The single-DES key ``D[0:8] xor D[8:16]`` of the 16-byte 3DES key ``D`` that
        :meth:`derive` would make (the 3DES purse's TAC key from its master), as the
        double-length key ``K || K``. PKCS#11 has no mechanism for it: a provider that
        cannot make it refuses."""
        raise HSMUnsupportedError(
            f"key {parent.name}: folding a 3DES key's halves (the 3DES purse TAC key) cannot "
            "be done with this provider (docs/hsm.md)")

    def left_half(self, name: str) -> HeldKey:
        """The left half ``K1`` of the double-length 3DES master ``name``, as the key
        ``K1 || K1`` (single DES under ``K1``; a CVV starts with it). PKCS#11 has no
        mechanism taking half of a key: a token holds it beside the key, written by the key
        ceremony (:func:`host.hsm.ceremony.import_key`)."""
        try:
            return self.key(left_half_name(name), Algorithm.TDES)
        except KeyObjectMissingError as exc:
            raise KeyObjectMissingError(
                f"{exc} (the CVV needs the CVK's left half, which dualcard hsm import writes "
                f"beside it: import {name} again into a token that lacks it)") from None

    def kcv(self, key: HeldKey) -> bytes:
        """The key's 3-byte check value, computed by the provider."""
        return self.encrypt_ecb(key, kcv_block(key.algorithm))[:3]

    @contextmanager
    def derived(self, parent: HeldKey, data: bytes, algorithm: Algorithm | None = None
                ) -> Iterator[HeldKey]:
        """:meth:`derive`, discarding the key when the block ends."""
        key = self.derive(parent, data, algorithm)
        try:
            yield key
        finally:
            self.discard(key)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_algorithm(key_name: str, found: Algorithm, wanted: Algorithm | None) -> None:
    """Raise :class:`WrongKeyTypeError` unless ``found`` is ``wanted`` (or nothing is)."""
    if wanted is not None and found is not wanted:
        raise WrongKeyTypeError(f"key {key_name} is {found.value}, the operation needs "
                                f"{wanted.value}")


class FileKeyProvider(KeyProvider):
    """The keys of a (sealed) key file, computed on in this process."""

    def __init__(self, keys: KeyFile) -> None:
        self._keys = keys

    def __repr__(self) -> str:
        return f"FileKeyProvider({self._keys!r})"

    @property
    def key_file(self) -> KeyFile:
        """The key file (for the code paths not yet written over this interface)."""
        return self._keys

    def info(self) -> list[KeyInfo]:
        return self._keys.info()

    def key(self, name: str, algorithm: Algorithm | None = None) -> HeldKey:
        master = self._keys.get(name)
        check_algorithm(name, master.algorithm, algorithm)
        return _file_key(name, master.algorithm, master.value)

    def derive(self, parent: HeldKey, data: bytes, algorithm: Algorithm | None = None
               ) -> HeldKey:
        return _file_key(f"{parent.name}*", algorithm or parent.algorithm,
                         self.encrypt_ecb(parent, data))

    def left_half(self, name: str) -> HeldKey:
        master = self._keys.get(name)
        check_algorithm(name, master.algorithm, Algorithm.TDES)
        return _file_key(left_half_name(name), Algorithm.TDES, master.value[:8] * 2)

    def derive_folded(self, parent: HeldKey, data: bytes) -> HeldKey:
        if parent.algorithm is not Algorithm.TDES or len(data) != 16:
            raise HSMUnsupportedError(f"key {parent.name}: a 3DES purse DTK is 16 bytes of "
                                      "a 3DES master")
        value = self.encrypt_ecb(parent, data)
        half = xor(value[:8], value[8:])
        return _file_key(f"{parent.name}*/folded", Algorithm.TDES, half + half)

    def encrypt_ecb(self, key: HeldKey, data: bytes) -> bytes:
        return _cipher(key).encrypt_ecb(data)

    def encrypt_cbc(self, key: HeldKey, data: bytes, iv: bytes | None = None) -> bytes:
        return _cipher(key).encrypt_cbc(data, iv)

    def cmac(self, key: HeldKey, data: bytes) -> bytes:
        return _cipher(key).cmac(data)

    def discard(self, key: HeldKey) -> None:
        """Nothing to do: the cipher goes with the last reference to ``key``."""


class _FileKey:
    """A key file's key (or one derived from it) and the cipher kept with it."""

    __slots__ = ("cipher", "value")

    def __init__(self, algorithm: Algorithm, value: bytes) -> None:
        self.value = value
        self.cipher = BlockCipher(algorithm, value)

    def __repr__(self) -> str:
        return "_FileKey()"


def _file_key(name: str, algorithm: Algorithm, value: bytes) -> HeldKey:
    return HeldKey(name, algorithm, len(value), _FileKey(algorithm, value))


def _held(key: HeldKey) -> _FileKey:
    if not isinstance(key.handle, _FileKey):
        raise WrongKeyTypeError(f"key {key.name} is not held by this key file")
    return key.handle


def _cipher(key: HeldKey) -> BlockCipher:
    return _held(key).cipher
