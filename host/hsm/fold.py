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
module's own ``C_*`` functions (the same loaded instance python-pkcs11 calls), under the
provider's module lock.
"""

from __future__ import annotations

import ctypes
from typing import Any

from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from .errors import HSMError, HSMUnsupportedError

__all__ = ["DTK_LENGTH", "fold_into_token"]

DTK_LENGTH = 16
_HALF = DTK_LENGTH // 2


class _Mechanism(ctypes.Structure):
    """``CK_MECHANISM``."""

    _fields_ = [("mechanism", ctypes.c_ulong), ("parameter", ctypes.c_void_p),
                ("length", ctypes.c_ulong)]


class _Attribute(ctypes.Structure):
    """``CK_ATTRIBUTE``."""

    _fields_ = [("type", ctypes.c_ulong), ("value", ctypes.c_void_p), ("length", ctypes.c_ulong)]


def fold_into_token(module: str, session: int, master: int, data: bytes, label: str, *,
                    buffer: Any = None) -> int:
    """Make the TAC key of the card whose DTK is ``ECB(master, data)`` as a session key
    labelled ``label``; its object handle. ``buffer`` (16 bytes, for tests) is the one the
    DTK passes through; it is zero when this returns."""
    if len(data) != DTK_LENGTH:
        raise HSMUnsupportedError(f"a 3DES purse DTK has {DTK_LENGTH} bytes")
    lib = _module(module)
    work = buffer if buffer is not None else ctypes.create_string_buffer(DTK_LENGTH)
    try:
        _encrypt(lib, session, master, data, work)
        _fold(work)
        return _create(lib, session, work, label)
    finally:
        ctypes.memset(work, 0, DTK_LENGTH)


def _module(path: str) -> Any:
    lib = ctypes.CDLL(path)
    for name in ("C_EncryptInit", "C_Encrypt", "C_CreateObject"):
        if not hasattr(lib, name):
            raise HSMUnsupportedError(f"the PKCS#11 module {path} exports no {name}")
    return lib


def _check(rv: int, what: str) -> None:
    if rv != 0:
        raise HSMError(f"the token refused to {what} (CKR 0x{rv & 0xFFFFFFFF:X})")


def _encrypt(lib: Any, session: int, master: int, data: bytes, out: Any) -> None:
    mechanism = _Mechanism(Mechanism.DES3_ECB.value, None, 0)
    _check(lib.C_EncryptInit(ctypes.c_ulong(session), ctypes.byref(mechanism),
                             ctypes.c_ulong(master)), "start the DTK's encryption")
    length = ctypes.c_ulong(DTK_LENGTH)
    clear = ctypes.create_string_buffer(bytes(data), DTK_LENGTH)  # public data
    _check(lib.C_Encrypt(ctypes.c_ulong(session), clear, ctypes.c_ulong(DTK_LENGTH), out,
                         ctypes.byref(length)), "encrypt the DTK's diversification data")
    if length.value != DTK_LENGTH:
        raise HSMError(f"the token made a DTK of {length.value} bytes")


def _fold(work: Any) -> None:
    """``L || R`` becomes ``(L xor R) || (L xor R)``, in place."""
    octets = (ctypes.c_ubyte * DTK_LENGTH).from_buffer(work)
    for i in range(_HALF):
        octets[i] ^= octets[i + _HALF]
        octets[i + _HALF] = octets[i]


def _create(lib: Any, session: int, value: Any, label: str) -> int:
    """The TAC key as a session object: sensitive, never extractable, encrypt and sign only."""
    flags = {Attribute.TOKEN: False, Attribute.PRIVATE: False, Attribute.SENSITIVE: True,
             Attribute.EXTRACTABLE: False, Attribute.ENCRYPT: True, Attribute.SIGN: True,
             Attribute.DECRYPT: False, Attribute.WRAP: False, Attribute.UNWRAP: False,
             Attribute.DERIVE: False}
    keep = [ctypes.c_ubyte(int(v)) for v in flags.values()]
    ulongs = [ctypes.c_ulong(ObjectClass.SECRET_KEY.value), ctypes.c_ulong(KeyType.DES2.value)]
    name = ctypes.create_string_buffer(label.encode(), len(label.encode()))
    items = [(Attribute.CLASS, ulongs[0], ctypes.sizeof(ctypes.c_ulong)),
             (Attribute.KEY_TYPE, ulongs[1], ctypes.sizeof(ctypes.c_ulong)),
             *((a, b, 1) for a, b in zip(flags, keep, strict=True)),
             (Attribute.LABEL, name, len(label.encode())), (Attribute.VALUE, value, DTK_LENGTH)]
    template = (_Attribute * len(items))(*(
        _Attribute(a.value, ctypes.cast(ctypes.pointer(v) if not isinstance(v, ctypes.Array)
                                        else v, ctypes.c_void_p), n) for a, v, n in items))
    handle = ctypes.c_ulong()
    _check(lib.C_CreateObject(ctypes.c_ulong(session), template, ctypes.c_ulong(len(items)),
                              ctypes.byref(handle)), "take the TAC key")
    return handle.value
