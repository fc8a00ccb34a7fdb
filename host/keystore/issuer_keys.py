"""The standard set of issuer master keys a new key file holds, one per purpose.

=================  ===========  =====================================================
reference          algorithm    what it is the master of
=================  ===========  =====================================================
``isd``            suite        both chips' security domain keys (KDF3 / EMV CPS)
``emv_ac``         suite        chip 1 ICC master keys for cryptograms (IMK-AC)
``emv_smi``        suite        issuer script integrity (IMK-SMI)
``emv_smc``        suite        issuer script confidentiality (IMK-SMC)
``cvk``            3DES         card verification key (CVV, iCVV) — 3DES by definition
``pvk``            3DES         PIN verification key (PVV) — 3DES by definition
``purse_load``     suite        chip 2 purse load keys (DLK)
``purse_purchase`` suite        chip 2 purse purchase keys (DPK)
``purse_tac``      suite        chip 2 purse TAC keys (DTK)
=================  ===========  =====================================================

A profile names the references it uses, so an issuer may keep other keys in the file
(a second generation, a test set) and switch by editing the profile.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import UnsupportedAlgorithmError
from apdu_specs.crypto.parity import with_odd_parity
from apdu_specs.crypto.suite import AlgorithmSuite, suite_named

from .errors import KeyStoreError
from .keyfile import KeyFile
from .master_key import MasterKey

__all__ = ["STANDARD_KEYS", "new_key_file", "random_key", "suite_of"]

#: reference → True when the key follows the suite, False when it is always 3DES
STANDARD_KEYS: dict[str, bool] = {
    "isd": True,
    "emv_ac": True,
    "emv_smi": True,
    "emv_smc": True,
    "cvk": False,
    "pvk": False,
    "purse_load": True,
    "purse_purchase": True,
    "purse_tac": True,
}


def suite_of(name: str) -> AlgorithmSuite:
    """The algorithm suite called ``name``; a :class:`KeyStoreError` if there is none."""
    try:
        return suite_named(name)
    except UnsupportedAlgorithmError as exc:
        raise KeyStoreError(str(exc)) from None


def random_key(name: str, algorithm: Algorithm, length: int = 16,
               random: Callable[[int], bytes] = os.urandom) -> MasterKey:
    """A fresh key (3DES keys get odd parity, as HSMs keep them)."""
    value = random(length)
    if algorithm is Algorithm.TDES:
        value = with_odd_parity(value)
    return MasterKey(name, algorithm, value)


def new_key_file(suite_name: str, random: Callable[[int], bytes] = os.urandom) -> KeyFile:
    """A key file with a fresh key for every standard reference."""
    suite = suite_of(suite_name)
    keys = KeyFile(suite.name)
    for name, follows_suite in STANDARD_KEYS.items():
        algorithm = suite.algorithm if follows_suite else Algorithm.TDES
        keys.add(random_key(name, algorithm, suite.key_length, random))
    return keys
