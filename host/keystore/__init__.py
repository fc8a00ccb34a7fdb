"""The issuer's master keys: a versioned key file, keys entered in parts, sealing at rest.

Keys never travel on a command line and never appear in a repr, a log or a trace: the
key reference and the KCV stand for them everywhere. Per-card keys are derived from
these masters by :mod:`host.perso.card_keys`.
"""

from .components import MAX_COMPONENTS, MIN_COMPONENTS, KeyComponent, combine_components
from .errors import KeyCheckError, KeyFileError, KeyStoreError, PassphraseError, UnknownKeyError
from .issuer_keys import STANDARD_KEYS, new_key_file, random_key, suite_of
from .keyfile import KEY_FILE_FORMAT, KEY_FILE_VERSION, KeyFile, KeyInfo, is_sealed, read_key_info
from .master_key import MasterKey, algorithm_named
from .secrets_input import SecretSource, parse_secret_hex, read_secret

__all__ = [
    "KEY_FILE_FORMAT",
    "KEY_FILE_VERSION",
    "MAX_COMPONENTS",
    "MIN_COMPONENTS",
    "STANDARD_KEYS",
    "KeyCheckError",
    "KeyComponent",
    "KeyFile",
    "KeyFileError",
    "KeyInfo",
    "KeyStoreError",
    "MasterKey",
    "PassphraseError",
    "SecretSource",
    "UnknownKeyError",
    "algorithm_named",
    "combine_components",
    "is_sealed",
    "new_key_file",
    "parse_secret_hex",
    "random_key",
    "read_key_info",
    "read_secret",
    "suite_of",
]
