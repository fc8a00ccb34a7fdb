"""A GlobalPlatform static key set (Key-ENC, Key-MAC, Key-DEK) shared by SCP02 and SCP03."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from apdu_specs.crypto.ciphers import Algorithm, check_key
from apdu_specs.crypto.diversify import Diversification, KeyType, diversify
from apdu_specs.crypto.kcv import kcv

__all__ = ["StaticKeys"]


@dataclass(frozen=True, repr=False)
class StaticKeys:
    """The three static keys of one key version; the repr shows KCVs, never keys."""

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

    def __repr__(self) -> str:
        enc, mac, dek = (k.hex().upper() for k in self.kcvs())
        return (
            f"StaticKeys({self.algorithm.value}-{len(self.enc) * 8}, "
            f"KCV enc={enc} mac={mac} dek={dek})"
        )

    def kcvs(self) -> tuple[bytes, bytes, bytes]:
        """Key check values of ENC, MAC and DEK."""
        return kcv(self.algorithm, self.enc), kcv(self.algorithm, self.mac), kcv(self.algorithm, self.dek)

    @classmethod
    def from_master(
        cls,
        master_key: bytes,
        kdd: bytes,
        scheme: Diversification,
        algorithm: Algorithm | None = None,
    ) -> StaticKeys:
        """The card's key set diversified from ``master_key`` with ``scheme``.

        ``algorithm`` defaults to 3DES for the EMV CPS and VISA2 schemes and to AES for KDF3.
        """
        if algorithm is None:
            algorithm = Algorithm.AES if scheme is Diversification.KDF3 else Algorithm.TDES
        if cls is StaticKeys and type(master_key) is bytes and type(kdd) is bytes:
            return _diversified(master_key, kdd, scheme, algorithm)
        keys = (diversify(scheme, master_key, kdd, kt, algorithm) for kt in KeyType)
        enc, mac, dek = keys
        return cls(enc, mac, dek, algorithm)


@functools.lru_cache(maxsize=256)
def _diversified(master_key: bytes, kdd: bytes, scheme: Diversification,
                 algorithm: Algorithm) -> StaticKeys:
    """A card's key set: a pure function of the master key and the KDD, derived again for
    every secure channel the host opens with that card, so derived once."""
    enc, mac, dek = (diversify(scheme, master_key, kdd, kt, algorithm) for kt in KeyType)
    return StaticKeys(enc, mac, dek, algorithm)
