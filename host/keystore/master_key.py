"""One named issuer master key: its algorithm, its value, and the KCV that stands for it.

The value is only ever used to compute; everything that is shown (repr, str, audit,
``keys list``) is the key reference and its key check value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apdu_specs.crypto.ciphers import Algorithm, check_key
from apdu_specs.crypto.errors import KeyLengthError
from apdu_specs.crypto.kcv import kcv

from .errors import KeyCheckError, KeyStoreError

__all__ = ["MasterKey", "algorithm_named"]

_NAMES = {"AES": Algorithm.AES, "SM4": Algorithm.SM4, "TDES": Algorithm.TDES,
          "3DES": Algorithm.TDES}


def algorithm_named(name: str) -> Algorithm:
    """``AES``, ``SM4`` or ``TDES``/``3DES`` (any case) as an :class:`Algorithm`."""
    try:
        return _NAMES[str(name).strip().upper()]
    except KeyError:
        raise KeyStoreError(f"unknown key algorithm {name!r} (use AES, SM4 or TDES)") from None


@dataclass(frozen=True, repr=False)
class MasterKey:
    """A key reference (``name``), its algorithm and its value; shown by KCV only."""

    name: str
    algorithm: Algorithm
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise KeyStoreError("a key reference is letters, digits, '_' and '-', "
                                f"got {self.name!r}")
        try:
            check_key(self.algorithm, bytes(self.value))
        except KeyLengthError as exc:
            raise KeyStoreError(f"key {self.name}: {exc}") from None
        object.__setattr__(self, "value", bytes(self.value))

    @property
    def kcv(self) -> bytes:
        """The 3-byte key check value in the algorithm's convention."""
        return kcv(self.algorithm, self.value)

    @property
    def kcv_hex(self) -> str:
        return self.kcv.hex().upper()

    def check(self, expected_kcv: bytes) -> None:
        """Raise :class:`KeyCheckError` unless the key's KCV is ``expected_kcv``."""
        if self.kcv != bytes(expected_kcv):
            raise KeyCheckError(f"key {self.name}: KCV is {self.kcv_hex}, expected "
                                f"{bytes(expected_kcv).hex().upper()}")

    def __repr__(self) -> str:
        size = f"{self.algorithm.value}-{len(self.value) * 8}"
        return f"MasterKey({self.name}, {size}, KCV {self.kcv_hex})"

    __str__ = __repr__
