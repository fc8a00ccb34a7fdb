"""Issuer master keys behind one interface: the sealed key file or a PKCS#11 token.

``--keys`` takes either a key file path or an RFC 7512 URI
(``pkcs11:token=<label>``); :func:`open_key_provider` tells them apart. The schemes in
:mod:`.schemes` are written once over :class:`KeyProvider`, so a token computes exactly
what the file path computes, with no key value leaving it (docs/hsm.md).
"""

from .errors import (
    HSMError,
    HSMModuleError,
    HSMUnsupportedError,
    KeyObjectMissingError,
    KeyURIError,
    TokenMissingError,
    TokenPinError,
    WrongKeyTypeError,
)
from .provider import FileKeyProvider, HeldKey, KeyProvider
from .uri import PKCS11URI, is_pkcs11_uri, parse_pkcs11_uri

__all__ = [
    "PKCS11URI",
    "FileKeyProvider",
    "HSMError",
    "HSMModuleError",
    "HSMUnsupportedError",
    "HeldKey",
    "KeyObjectMissingError",
    "KeyProvider",
    "KeyURIError",
    "TokenMissingError",
    "TokenPinError",
    "WrongKeyTypeError",
    "is_pkcs11_uri",
    "parse_pkcs11_uri",
]
