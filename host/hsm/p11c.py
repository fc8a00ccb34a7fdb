"""The few PKCS#11 C calls python-pkcs11 does not offer the way the project needs them.

python-pkcs11 returns every value as an immutable ``bytes``, which cannot be wiped; the
two places where a key value passes through this process (docs/hsm.md: the 3DES suite's
card keys read out when a card is personalised, :mod:`.sealing`; the 3DES purse's DTK
folded into its TAC key, :mod:`.fold`) call the module's own ``C_*`` functions with
buffers they own and zero. The library is the one python-pkcs11 loaded (``dlopen`` gives
the same instance once per process), and callers hold the provider's module lock
(:func:`.token.module_lock`). The structures are PKCS#11's, laid out as ``ctypes`` needs.

Personalisation's card keys are made, used and destroyed here too (:meth:`.token.
TokenKeyProvider.derive_card_key`): python-pkcs11 makes a Python object of every key it
derives, reading ten attributes one call at a time from SoftHSM2, which costs more than the
derivation itself; a card key is used for three calls (its KCV, its wrap, its destruction)
and needs none of them. Its template is packed once (:class:`Template`).

The keys a scheme derives and uses at once (a card's DTK, an ICC master key, a session key)
and the operations on every key (ECB, CBC, CMAC) go through here for the same reason: a
clearing run checks each TAC with a ``C_SignInit`` + ``C_Sign`` under a kept card key, and
python-pkcs11 builds a mechanism object and an operation object around the two calls, which
cost more than SoftHSM2's CMAC of a few blocks. A parameterless mechanism is packed once
(:func:`bare_mechanism`).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from apdu_specs.caches import pure_cache

from .errors import HSMError, HSMUnsupportedError

__all__ = [
    "CKA_VALUE",
    "Attribute",
    "DerivationString",
    "MacCall",
    "Mechanism",
    "Template",
    "bare_mechanism",
    "check",
    "create_object",
    "derive_key",
    "destroy_object",
    "encrypt_into",
    "get_value_into",
    "library",
    "wrap_key",
]

CKA_VALUE = 0x11
#: the calls this module makes: a module that lacks one is refused when it is loaded
_CALLS = ("C_GetAttributeValue", "C_EncryptInit", "C_Encrypt", "C_CreateObject", "C_DeriveKey",
          "C_WrapKey", "C_DestroyObject", "C_SignInit", "C_Sign")


class Attribute(ctypes.Structure):
    """``CK_ATTRIBUTE``: ``{CK_ATTRIBUTE_TYPE type; void *pValue; CK_ULONG ulValueLen;}``."""

    _fields_ = [("type", ctypes.c_ulong), ("value", ctypes.c_void_p),
                ("length", ctypes.c_ulong)]


class Mechanism(ctypes.Structure):
    """``CK_MECHANISM``: ``{CK_MECHANISM_TYPE mechanism; void *pParameter; CK_ULONG len;}``."""

    _fields_ = [("mechanism", ctypes.c_ulong), ("parameter", ctypes.c_void_p),
                ("length", ctypes.c_ulong)]


class DerivationString(ctypes.Structure):
    """``CK_KEY_DERIVATION_STRING_DATA``: ``{CK_BYTE_PTR pData; CK_ULONG ulLen;}``."""

    _fields_ = [("data", ctypes.c_void_p), ("length", ctypes.c_ulong)]


class Template:
    """A ``CK_ATTRIBUTE`` array over packed values, made once and used for many calls."""

    def __init__(self, packed: Sequence[tuple[int, bytes]]) -> None:
        self._values = [ctypes.create_string_buffer(value, len(value)) for _, value in packed]
        self.count = len(packed)
        self.array = (Attribute * self.count)(*(
            Attribute(kind, ctypes.cast(buffer, ctypes.c_void_p), len(value))
            for (kind, value), buffer in zip(packed, self._values, strict=True)))


@pure_cache(maxsize=32)
def bare_mechanism(kind: int) -> Mechanism:
    """The ``CK_MECHANISM`` of a mechanism that takes no parameter (ECB, CMAC), made once:
    the module reads it during ``C_*Init`` and keeps nothing of it."""
    return Mechanism(kind, None, 0)


@pure_cache(maxsize=4)
def library(path: str) -> ctypes.CDLL:
    """The module at ``path`` as ctypes sees it, with every call this module makes."""
    lib = ctypes.CDLL(path)
    for name in _CALLS:
        if not hasattr(lib, name):
            raise HSMUnsupportedError(f"the PKCS#11 module {path} exports no {name}")
    return lib


def check(rv: int, what: str) -> None:
    """A typed error naming what the token refused to do and its ``CKR_`` code."""
    if rv != 0:
        raise HSMError(f"the token refused to {what} (CKR 0x{rv & 0xFFFFFFFF:X})")


def get_value_into(path: str, session: int, obj: int, out: bytearray, offset: int) -> None:
    """``C_GetAttributeValue(CKA_VALUE)`` straight into ``out[offset:]``, a buffer sized
    beforehand (a growing buffer leaves copies behind when it moves)."""
    view = (ctypes.c_char * (len(out) - offset)).from_buffer(out, offset)
    attribute = Attribute(CKA_VALUE, ctypes.addressof(view), len(out) - offset)
    del view
    check(library(path).C_GetAttributeValue(ctypes.c_ulong(session), ctypes.c_ulong(obj),
                                            ctypes.byref(attribute), ctypes.c_ulong(1)),
          "give the value of a readable key")


def encrypt_into(path: str, session: int, key: int, mechanism: int, data: bytes,
                 out: Any, iv: bytes | None = None) -> None:
    """``C_EncryptInit`` + ``C_Encrypt`` of public ``data`` (whole blocks; ``iv``: the
    mechanism's parameter, if it takes one) into ``out``, a ctypes buffer exactly as long."""
    lib = library(path)
    vector = ctypes.create_string_buffer(bytes(iv), len(iv)) if iv is not None else None
    mech = (bare_mechanism(mechanism) if vector is None else
            Mechanism(mechanism, ctypes.cast(vector, ctypes.c_void_p), len(vector)))
    handle = ctypes.c_ulong(session)
    check(lib.C_EncryptInit(handle, ctypes.byref(mech), ctypes.c_ulong(key)),
          "start an encryption")
    length = ctypes.c_ulong(len(data))
    check(lib.C_Encrypt(handle, bytes(data), ctypes.c_ulong(len(data)), out,
                        ctypes.byref(length)), "encrypt")
    if length.value != len(data):
        raise HSMError(f"the token encrypted {len(data)} bytes into {length.value}")


class MacCall:
    """``C_SignInit`` + ``C_Sign`` by a parameterless mechanism (a MAC: CMAC) for one
    session, its arguments made once: a clearing run's TAC checks are thousands of these,
    and building them per call was a fifth of the call's cost. The output buffer is reused:
    the caller holds the module lock until this returns (the MAC, public, copied out)."""

    def __init__(self, path: str, session: int, mechanism: int, size: int) -> None:
        lib = library(path)
        self._init, self._sign = lib.C_SignInit, lib.C_Sign
        self._session = ctypes.c_ulong(session)
        self._mechanism = ctypes.byref(bare_mechanism(mechanism))
        self._out = ctypes.create_string_buffer(size)
        self._size = size
        self._length = ctypes.c_ulong()
        self._written = ctypes.byref(self._length)

    def __call__(self, key: int, data: bytes) -> bytes:
        """The MAC of public ``data`` under the key object ``key``."""
        check(self._init(self._session, self._mechanism, ctypes.c_ulong(key)), "start a MAC")
        self._length.value = self._size
        check(self._sign(self._session, data, ctypes.c_ulong(len(data)), self._out,
                         self._written), "compute a MAC")
        return self._out.raw[:self._length.value]


def create_object(path: str, session: int, items: Sequence[tuple[int, Any, int]]) -> int:
    """``C_CreateObject`` from ``(attribute type, ctypes value, length)`` triples, each
    value read where it is (a key value is never copied); the object's handle."""
    template = (Attribute * len(items))(*(
        Attribute(kind, ctypes.cast(value if isinstance(value, ctypes.Array)
                                    else ctypes.pointer(value), ctypes.c_void_p), length)
        for kind, value, length in items))
    handle = ctypes.c_ulong()
    check(library(path).C_CreateObject(ctypes.c_ulong(session), template,
                                       ctypes.c_ulong(len(items)), ctypes.byref(handle)),
          "create a key object")
    return handle.value


def derive_key(path: str, session: int, parent: int, mechanism: int, data: bytes,
               template: Template) -> int:
    """``C_DeriveKey`` by a ``*_ECB_ENCRYPT_DATA`` mechanism (its parameter a
    ``CK_KEY_DERIVATION_STRING_DATA`` over ``data``): the new object's handle."""
    buffer = ctypes.create_string_buffer(bytes(data), len(data))
    param = DerivationString(ctypes.cast(buffer, ctypes.c_void_p), len(data))
    mech = Mechanism(mechanism, ctypes.cast(ctypes.pointer(param), ctypes.c_void_p),
                     ctypes.sizeof(param))
    handle = ctypes.c_ulong()
    check(library(path).C_DeriveKey(ctypes.c_ulong(session), ctypes.byref(mech),
                                    ctypes.c_ulong(parent), template.array,
                                    ctypes.c_ulong(template.count), ctypes.byref(handle)),
          "derive a key")
    return handle.value


def wrap_key(path: str, session: int, mechanism: int, iv: bytes, wrapping: int, key: int,
             length: int) -> bytes:
    """``C_WrapKey`` of ``key`` under ``wrapping`` by a mechanism whose parameter is an IV;
    ``length``: the wrapped key's (a CBC wrap without padding: the key's own)."""
    vector = ctypes.create_string_buffer(bytes(iv), len(iv))
    mech = Mechanism(mechanism, ctypes.cast(vector, ctypes.c_void_p), len(iv))
    out = ctypes.create_string_buffer(length)
    written = ctypes.c_ulong(length)
    check(library(path).C_WrapKey(ctypes.c_ulong(session), ctypes.byref(mech),
                                  ctypes.c_ulong(wrapping), ctypes.c_ulong(key), out,
                                  ctypes.byref(written)), "wrap a card key")
    return out.raw[:written.value]


def destroy_object(path: str, session: int, obj: int) -> None:
    """``C_DestroyObject``."""
    check(library(path).C_DestroyObject(ctypes.c_ulong(session), ctypes.c_ulong(obj)),
          "destroy a key object")
