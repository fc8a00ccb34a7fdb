"""Keys entered in parts under dual (or triple) control.

Each custodian holds one component and its KCV. Every component is checked against its
own KCV as it is entered (a typo is caught at once and blamed on the right person), the
components are XOR-ed, and the result must match the combined KCV the key's owner
published. Nothing here reads input; the CLI collects components from env vars, files or
a hidden prompt and hands them over as bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from apdu_specs.crypto.ciphers import Algorithm, check_key, xor
from apdu_specs.crypto.errors import KeyLengthError
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.parity import with_odd_parity

from .errors import KeyCheckError, KeyStoreError
from .master_key import MasterKey

__all__ = ["MAX_COMPONENTS", "MIN_COMPONENTS", "KeyComponent", "combine_components"]

MIN_COMPONENTS = 2
MAX_COMPONENTS = 3


@dataclass(frozen=True, repr=False)
class KeyComponent:
    """One custodian's part of a key and the KCV written next to it."""

    value: bytes = field(repr=False)
    kcv: bytes

    def __repr__(self) -> str:
        return f"KeyComponent(KCV {bytes(self.kcv).hex().upper()})"


def _check_length(algorithm: Algorithm, value: bytes, what: str) -> None:
    try:
        check_key(algorithm, value)
    except KeyLengthError as exc:
        raise KeyStoreError(f"{what}: {exc}") from None


def combine_components(name: str, algorithm: Algorithm, parts: Sequence[KeyComponent],
                       combined_kcv: bytes) -> MasterKey:
    """XOR 2–3 checked components into the key ``name``; its KCV must be ``combined_kcv``.

    A combined 3DES key is given odd parity (the XOR of odd-parity components has even
    parity); DES ignores parity bits, so no KCV changes.
    """
    if not MIN_COMPONENTS <= len(parts) <= MAX_COMPONENTS:
        raise KeyStoreError(f"a key is entered in {MIN_COMPONENTS} or {MAX_COMPONENTS} "
                            f"components, got {len(parts)}")
    length = len(parts[0].value)
    for number, part in enumerate(parts, start=1):
        what = f"component {number} of {name}"
        _check_length(algorithm, part.value, what)
        if len(part.value) != length:
            raise KeyStoreError(f"{what} has {len(part.value)} bytes, component 1 has {length}")
        if kcv(algorithm, part.value) != bytes(part.kcv):
            raise KeyCheckError(f"{what}: KCV does not match {bytes(part.kcv).hex().upper()} "
                                "(re-enter this component)")
    value = parts[0].value
    for part in parts[1:]:
        value = xor(value, part.value)
    if algorithm is Algorithm.TDES:
        value = with_odd_parity(value)
    key = MasterKey(name, algorithm, value)
    if key.kcv != bytes(combined_kcv):
        raise KeyCheckError(f"combined key {name}: KCV {key.kcv_hex} does not match "
                            f"{bytes(combined_kcv).hex().upper()}; the key was not stored")
    return key
