"""The one key value dualcard takes out of a token: a card's DTK, to make the 3DES purse's
TAC key ``DTK[0:8] xor DTK[8:16]`` (PBOC), which no PKCS#11 mechanism computes.

docs/hsm.md ("What stays outside the token") says why nothing better exists in a
SoftHSM2-class token. What is done keeps the exposure to one buffer for microseconds:

- the DTK is the ECB encryption of the card's diversification data under the TAC master
  (``C_Encrypt`` into a ``ctypes`` buffer: it never becomes a Python ``bytes``, which could not
  be wiped); the master never leaves;
- its halves are XORed in place into ``K || K`` (the single-DES key as a double-length one),
  written back into the token as a session key — sensitive, not extractable, able to
  encrypt and MAC only (``C_CreateObject`` reading the same buffer);
- the buffer is zeroed before the call returns, whatever happened.

The TAC key then lives in the token like any derived key: kept while the clearing verifier
keeps the card, destroyed when it is evicted or the batch is done. The calls go to the
module's own ``C_*`` functions (:mod:`.p11c`), under the provider's module lock.
"""

from __future__ import annotations

import ctypes
from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from . import p11c
from .errors import HSMUnsupportedError

__all__ = ["DTK_LENGTH", "fold_into_token"]

DTK_LENGTH = 16
_HALF = DTK_LENGTH // 2
#: the TAC key: sensitive, never extractable, a session object that encrypts and MACs only
_FLAGS = {Attribute.TOKEN: False, Attribute.PRIVATE: False, Attribute.SENSITIVE: True,
          Attribute.EXTRACTABLE: False, Attribute.ENCRYPT: True, Attribute.SIGN: True,
          Attribute.DECRYPT: False, Attribute.WRAP: False, Attribute.UNWRAP: False,
          Attribute.DERIVE: False}


def fold_into_token(module: str, session: int, master: int, data: bytes, label: str, *,
                    buffer: Any = None) -> int:
    """Make the TAC key of the card whose DTK is ``ECB(master, data)`` as a session key
    labelled ``label``; its object handle. ``buffer`` (16 bytes, for tests) is the one the
    DTK passes through; it is zero when this returns."""
    if len(data) != DTK_LENGTH:
        raise HSMUnsupportedError(f"a 3DES purse DTK has {DTK_LENGTH} bytes")
    work = buffer if buffer is not None else ctypes.create_string_buffer(DTK_LENGTH)
    try:
        p11c.encrypt_into(module, session, master, Mechanism.DES3_ECB.value, data, work)
        _fold(work)
        return _create(module, session, work, label)
    finally:
        ctypes.memset(work, 0, DTK_LENGTH)


def _fold(work: Any) -> None:
    """``L || R`` becomes ``(L xor R) || (L xor R)``, in place."""
    octets = (ctypes.c_ubyte * DTK_LENGTH).from_buffer(work)
    for i in range(_HALF):
        octets[i] ^= octets[i + _HALF]
        octets[i + _HALF] = octets[i]


def _create(module: str, session: int, value: Any, label: str) -> int:
    """The TAC key as a session object (:data:`_FLAGS`), read from ``value`` where it is."""
    flags = [ctypes.c_ubyte(int(v)) for v in _FLAGS.values()]
    ulong = ctypes.sizeof(ctypes.c_ulong)
    name = label.encode()
    items = [(Attribute.CLASS.value, ctypes.c_ulong(ObjectClass.SECRET_KEY.value), ulong),
             (Attribute.KEY_TYPE.value, ctypes.c_ulong(KeyType.DES2.value), ulong),
             *((a.value, b, 1) for a, b in zip(_FLAGS, flags, strict=True)),
             (Attribute.LABEL.value, ctypes.create_string_buffer(name, len(name)), len(name)),
             (Attribute.VALUE.value, value, DTK_LENGTH)]
    return p11c.create_object(module, session, items)
