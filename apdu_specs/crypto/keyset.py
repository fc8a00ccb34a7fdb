"""A GlobalPlatform static key set (Key-ENC, Key-MAC, Key-DEK) shared by SCP02 and SCP03."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from apdu_specs.crypto.ciphers import Algorithm, BlockCipher, CipherKey, KeyCiphers, check_key
from apdu_specs.crypto.diversify import Diversification, KeyType, diversify
from apdu_specs.crypto.kcv import kcv

__all__ = ["StaticKeys"]

KeyName = Literal["enc", "mac", "dek"]


@dataclass(frozen=True, repr=False)
class StaticKeys:
    """The three static keys of one key version; the repr shows KCVs, never keys.

    The key set owns the ciphers of its keys (:meth:`cipher`) and their KCVs, made on
    first use: every secure channel opened with the same key set object shares them, and
    they go with it.
    """

    enc: bytes
    mac: bytes
    dek: bytes
    algorithm: Algorithm = Algorithm.AES

    def __post_init__(self) -> None:
        algorithm = self.algorithm
        for name in ("enc", "mac", "dek"):
            value = getattr(self, name)
            if type(value) is not bytes:  # bytes(value) of bytes is the same object
                value = bytes(value)
                object.__setattr__(self, name, value)
            check_key(algorithm, value)
        object.__setattr__(self, "_ciphers", KeyCiphers(3))

    def cipher(self, name: KeyName) -> BlockCipher:
        """The cipher of the ``enc``, ``mac`` or ``dek`` key."""
        key: bytes = getattr(self, name)
        ciphers: KeyCiphers = self.__dict__["_ciphers"]
        return ciphers.of(self.algorithm, key)

    def __repr__(self) -> str:
        enc, mac, dek = (k.hex().upper() for k in self.kcvs())
        return (
            f"StaticKeys({self.algorithm.value}-{len(self.enc) * 8}, "
            f"KCV enc={enc} mac={mac} dek={dek})"
        )

    def kcvs(self) -> tuple[bytes, bytes, bytes]:
        """Key check values of ENC, MAC and DEK (computed once per key set: the plan's
        audit, PUT KEY on both ends and the repr all ask)."""
        found: tuple[bytes, bytes, bytes] | None = self.__dict__.get("_kcvs")
        if found is None:
            # from the raw keys: a key set made for PUT KEY is never used for anything else,
            # so its ciphers would be made for one block each
            algorithm = self.algorithm
            found = (kcv(algorithm, self.enc), kcv(algorithm, self.mac), kcv(algorithm, self.dek))
            object.__setattr__(self, "_kcvs", found)
        return found

    @classmethod
    def from_master(
        cls,
        master_key: CipherKey,
        kdd: bytes,
        scheme: Diversification,
        algorithm: Algorithm | None = None,
    ) -> StaticKeys:
        """The card's key set diversified from ``master_key`` with ``scheme``.

        ``algorithm`` defaults to 3DES for the EMV CPS and VISA2 schemes and to AES for KDF3.
        """
        if algorithm is None:
            algorithm = Algorithm.AES if scheme is Diversification.KDF3 else Algorithm.TDES
        keys = (diversify(scheme, master_key, kdd, kt, algorithm) for kt in KeyType)
        enc, mac, dek = keys
        return cls(enc, mac, dek, algorithm)
