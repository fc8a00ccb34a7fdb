"""Cryptographic schemes both the card and the host compute, so they cannot disagree.

Pure functions and small sans-I/O state objects, bytes in and bytes out, built on the
``cryptography`` package (no block cipher is implemented here). One concept per module:

- :mod:`.ciphers` — :class:`Algorithm`, ECB/CBC and CMAC on cipher contexts their key's
  owner keeps (nothing here keeps a key);
- :mod:`.padding`, :mod:`.mac`, :mod:`.kdf`, :mod:`.kcv`, :mod:`.parity`;
- :mod:`.diversify`, :mod:`.keyset` — GlobalPlatform card keys;
- :mod:`.scp03`, :mod:`.scp02` — secure channels (:mod:`.secure_messaging` is their
  common interface);
- :mod:`.emv` — EMV card keys and cryptograms; :mod:`.purse` — PBOC purse MACs and TAC;
- :mod:`.cvv`, :mod:`.luhn` — magnetic-stripe verification values;
- :mod:`.suite` — the AES / SM4 / 3DES suites a card profile selects.

Every error is a :class:`CryptoError`; randomness is always a parameter.
"""

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.suite import AES_SUITE, SM4_SUITE, TDES_SUITE, AlgorithmSuite, suite_named

__all__ = [
    "AES_SUITE",
    "SM4_SUITE",
    "TDES_SUITE",
    "Algorithm",
    "AlgorithmSuite",
    "CryptoError",
    "suite_named",
]
