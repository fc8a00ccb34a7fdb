"""Encryption of a key file at rest: scrypt turns a passphrase into an AES-256-GCM key.

Kept deliberately simple: one scrypt derivation (salt 16 random bytes; cost n = 2^15,
r = 8, p = 1 by default — about 32 MiB and a tenth of a second, so guessing is slow),
one AES-GCM encryption with a 12-byte random nonce. The authenticated associated data
is the file's clear header (format, version, suite, key references and KCVs), so
nobody can swap KCVs or key references in a sealed file without the passphrase.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import KeyFileError, PassphraseError

__all__ = ["DEFAULT_COST", "SealParameters", "open_sealed", "seal"]

DEFAULT_COST = 2**15
_KEY_LENGTH = 32
_NONCE_LENGTH = 12
_SALT_LENGTH = 16
_MAXMEM = 256 * 1024 * 1024


@dataclass(frozen=True)
class SealParameters:
    """What is stored next to the ciphertext to open it again."""

    salt: bytes
    nonce: bytes
    n: int = DEFAULT_COST
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or not 1 <= self.r <= 64 or not 1 <= self.p <= 16:
            raise KeyFileError("scrypt parameters: n a power of two, r 1..64, p 1..16")
        if len(self.salt) < 8 or len(self.nonce) != _NONCE_LENGTH:
            raise KeyFileError("sealed key file: salt or nonce has a wrong length")

    def to_json(self) -> dict[str, object]:
        return {"kdf": "scrypt", "n": self.n, "r": self.r, "p": self.p,
                "salt": self.salt.hex().upper(), "cipher": "AES-256-GCM",
                "nonce": self.nonce.hex().upper()}

    @classmethod
    def from_json(cls, data: object) -> SealParameters:
        if not isinstance(data, dict) or data.get("kdf") != "scrypt" \
                or data.get("cipher") != "AES-256-GCM":
            raise KeyFileError("sealed key file: only scrypt + AES-256-GCM is supported")
        try:
            return cls(bytes.fromhex(data["salt"]), bytes.fromhex(data["nonce"]),
                       int(data["n"]), int(data["r"]), int(data["p"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(f"sealed key file: bad encryption parameters ({exc})") from None


def _derive(passphrase: str, params: SealParameters) -> bytes:
    if not passphrase:
        raise PassphraseError("an empty passphrase cannot protect a key file")
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=params.salt, n=params.n, r=params.r,
                          p=params.p, maxmem=_MAXMEM, dklen=_KEY_LENGTH)


def seal(plaintext: bytes, passphrase: str, header: bytes, *, cost: int = DEFAULT_COST,
         random: Callable[[int], bytes] = os.urandom) -> tuple[SealParameters, bytes]:
    """Encrypt ``plaintext``; ``header`` is authenticated but stays readable."""
    params = SealParameters(random(_SALT_LENGTH), random(_NONCE_LENGTH), cost)
    return params, AESGCM(_derive(passphrase, params)).encrypt(params.nonce, plaintext, header)


def open_sealed(ciphertext: bytes, passphrase: str, header: bytes,
                params: SealParameters) -> bytes:
    """Decrypt; :class:`PassphraseError` when the passphrase (or the file) is wrong."""
    try:
        return AESGCM(_derive(passphrase, params)).decrypt(params.nonce, ciphertext, header)
    except InvalidTag:
        raise PassphraseError("wrong passphrase, or the key file was altered") from None
