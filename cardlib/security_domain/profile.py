"""The card profile an ISD keeps: which algorithm suite, which SCP options, which limits.

One profile value per ISD, written at manufacture (:func:`~.blank.install_isd`):

- ``suite``: AES (SCP03, the default), SM4 (SCP03's construction with SM4, what a
  Chinese deployment expects) or 3DES (SCP02, legacy installations);
- ``i_parameter``: SCP03 ``70`` = pseudo-random card challenge, R-MAC and R-ENC
  supported (S8); ``71`` adds S16. SCP02 ``55`` = ICV encryption (``15`` without);
- ``max_auth_failures``: consecutive failed EXTERNAL AUTHENTICATEs that lock a key set;
- ``status_page_size``: GET STATUS data per response before ``6310`` (leaves room for
  R-MAC and R-ENC padding inside 256 bytes);
- ``max_key_sets``: room for key sets (PUT KEY answers ``6A84`` beyond it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from apdu_specs.caches import pure_cache
from apdu_specs.crypto.ciphers import Algorithm

__all__ = ["ISDProfile", "Suite"]


class Suite(StrEnum):
    """The algorithm suite of a card profile."""

    AES = "AES"
    SM4 = "SM4"
    TDES = "3DES"

    @property
    def algorithm(self) -> Algorithm:
        return _ALGORITHMS[self]

    @property
    def scp(self) -> int:
        """The secure channel protocol number (02 or 03)."""
        return 2 if self is Suite.TDES else 3


_ALGORITHMS = {Suite.AES: Algorithm.AES, Suite.SM4: Algorithm.SM4, Suite.TDES: Algorithm.TDES}
_SCP03_I_BITS = 0x01 | 0x10 | 0x20 | 0x40
_SCP02_I_VALUES = (0x15, 0x55)


@dataclass(frozen=True)
class ISDProfile:
    """Card profile values (see the module docstring)."""

    suite: Suite = Suite.AES
    i_parameter: int = 0x70
    max_auth_failures: int = 10
    status_page_size: int = 224
    max_key_sets: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "suite", Suite(self.suite))
        if self.suite.scp == 2 and self.i_parameter not in _SCP02_I_VALUES:
            raise ValueError(f"SCP02 i parameter must be 15 or 55, got {self.i_parameter:02X}")
        if self.suite.scp == 3 and self.i_parameter & ~_SCP03_I_BITS & 0xFF:
            raise ValueError(f"SCP03 i parameter {self.i_parameter:02X} has unknown bits")
        if not 1 <= self.max_auth_failures <= 255:
            raise ValueError("max_auth_failures must be 1..255")
        if not 32 <= self.status_page_size <= 224:
            raise ValueError("status_page_size must be 32..224")
        if not 1 <= self.max_key_sets <= 127:
            raise ValueError("max_key_sets must be 1..127")

    @classmethod
    def for_suite(cls, suite: Suite | str, **overrides: Any) -> ISDProfile:
        """The usual profile of a suite (SCP02 gets i=55)."""
        if not overrides and cls is ISDProfile and isinstance(suite, str):
            return _usual_profile(suite)  # every blank card asks for one of three
        suite = Suite(suite)
        base: dict[str, Any] = {"suite": suite, "i_parameter": 0x55 if suite.scp == 2 else 0x70}
        return cls(**{**base, **overrides})

    def to_value(self) -> tuple[Any, ...]:
        return (self.suite.value, self.i_parameter, self.max_auth_failures,
                self.status_page_size, self.max_key_sets)

    @classmethod
    def from_value(cls, value: tuple[Any, ...]) -> ISDProfile:
        if cls is ISDProfile:
            return _profile_of(value)
        suite, i_parameter, failures, page, key_sets = value
        return cls(Suite(suite), i_parameter, failures, page, key_sets)


@pure_cache(maxsize=16, typed=True)
def _usual_profile(suite: str) -> ISDProfile:
    suite = Suite(suite)
    return ISDProfile(suite, 0x55 if suite.scp == 2 else 0x70)


@pure_cache(maxsize=64)
def _profile_of(value: tuple[Any, ...]) -> ISDProfile:
    """The ISD reads its profile on every command: decoded (and validated) once per
    stored value, which is immutable, as is the profile."""
    suite, i_parameter, failures, page, key_sets = value
    return ISDProfile(Suite(suite), i_parameter, failures, page, key_sets)
