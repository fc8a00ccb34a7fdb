"""A PKCS#11 token as a :class:`~host.hsm.provider.KeyProvider` (python-pkcs11).

The token is named by an RFC 7512 URI (:mod:`.uri`); the module (the vendor's shared
library) comes from the URI's ``module-path``, else ``$DUALCARD_PKCS11_MODULE``, else
Debian's SoftHSM2. The user PIN comes from the caller (the CLI reads
``$DUALCARD_HSM_PIN`` or prompts); it is never part of the URI or a command line.

Every key the provider makes is a session object (gone when the session closes), sensitive
and not extractable, with only the use it needs; :meth:`TokenKeyProvider.discard` destroys
it as soon as the scheme is done with it, so a clearing run of a million TACs leaves
nothing behind. Master keys are token objects made by the key ceremony (:mod:`.ceremony`).

Threads: python-pkcs11 initialises a module with ``C_Initialize(NULL)``, which tells it that
the application will not call it from several threads at once — SoftHSM2 then switches its
own mutexes off — and it releases the GIL during every call. So no two calls may run at once
into one module, even on different sessions: every provider of a module shares one lock
(:func:`module_lock`), a session per thread would be a data race, not parallelism.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import threading
from collections.abc import Callable
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11

from apdu_specs.caches import pure_cache
from apdu_specs.crypto.ciphers import Algorithm
from host.keystore import KeyInfo

from . import p11c
from .errors import (
    HSMModuleError,
    HSMUnsupportedError,
    KeyObjectMissingError,
    TokenMissingError,
    TokenPinError,
    WrongKeyTypeError,
)
from .provider import LEFT_HALF, HeldKey, KeyProvider, check_algorithm
from .uri import PKCS11URI

__all__ = ["DEFAULT_MODULE", "ENV_MODULE", "ENV_PIN", "TokenKeyProvider", "module_lock",
           "module_path", "reload_module", "secret_key_template"]

ENV_MODULE = "DUALCARD_PKCS11_MODULE"
ENV_PIN = "DUALCARD_HSM_PIN"
DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

_KEY_TYPES = {KeyType.AES: Algorithm.AES, KeyType.DES2: Algorithm.TDES,
              KeyType.DES3: Algorithm.TDES, KeyType._DES: Algorithm.DES}
_P11_TYPES = {Algorithm.AES: KeyType.AES, Algorithm.DES: KeyType._DES}
_ECB = {Algorithm.AES: Mechanism.AES_ECB, Algorithm.TDES: Mechanism.DES3_ECB,
        Algorithm.DES: Mechanism._DES_ECB}
_CBC = {Algorithm.AES: Mechanism.AES_CBC, Algorithm.TDES: Mechanism.DES3_CBC,
        Algorithm.DES: Mechanism._DES_CBC}
_CMAC = {Algorithm.AES: Mechanism.AES_CMAC, Algorithm.TDES: Mechanism.DES3_CMAC}
_DERIVE = {Algorithm.AES: Mechanism.AES_ECB_ENCRYPT_DATA,
           Algorithm.TDES: Mechanism.DES3_ECB_ENCRYPT_DATA,
           Algorithm.DES: Mechanism.DES_ECB_ENCRYPT_DATA}
#: what a derived key may do: derive further, encrypt (session keys, ARPC), MAC
_DERIVED_USES = {Attribute.DERIVE: True, Attribute.ENCRYPT: True, Attribute.SIGN: True,
                 Attribute.DECRYPT: False, Attribute.WRAP: False, Attribute.UNWRAP: False}
_USES = MechanismFlag.ENCRYPT | MechanismFlag.SIGN | MechanismFlag.DERIVE
_LOCKED = (p11.PinIncorrect, p11.PinLocked, p11.PinExpired, p11.PinInvalid, p11.PinLenRange)


def module_path(uri: PKCS11URI) -> str:
    """The PKCS#11 module to load for ``uri``."""
    return uri.module_path or os.environ.get(ENV_MODULE) or DEFAULT_MODULE


_MODULE_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def module_lock(path: str) -> threading.Lock:
    """The one lock every call into the module at ``path`` holds (see the module doc)."""
    with _LOCKS_LOCK:
        return _MODULE_LOCKS.setdefault(os.path.realpath(path), threading.Lock())


def secret_key_template(algorithm: Algorithm, length: int) -> dict[Attribute, Any]:
    """What every secret key the project makes in a token is: sensitive, never extractable,
    never wrapping or unwrapping (a token that allowed a wrap could export it)."""
    return {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: p11_key_type(
        algorithm, length), Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
        **_DERIVED_USES}


def p11_key_type(algorithm: Algorithm, length: int) -> KeyType:
    """The PKCS#11 key type of a key of ``algorithm`` and ``length`` bytes."""
    if algorithm is Algorithm.TDES:
        return KeyType.DES2 if length == 16 else KeyType.DES3
    try:
        return _P11_TYPES[algorithm]
    except KeyError:
        raise HSMUnsupportedError(f"a PKCS#11 token holds no {algorithm.value} keys") from None


def open_token(uri: PKCS11URI, pin: str | Callable[[], str], *, rw: bool = False
               ) -> pkcs11.Session:
    """A logged-in session on the token ``uri`` names; typed errors for each way it fails."""
    path = module_path(uri)
    try:
        lib = pkcs11.lib(path)
    except (RuntimeError, OSError, p11.PKCS11Error) as exc:
        raise HSMModuleError(f"cannot load the PKCS#11 module {path} ({exc})") from None
    token = _token(lib, uri.token, path)
    secret = pin() if callable(pin) else pin
    if not secret:
        raise TokenPinError(f"token {uri.token!r}: a user PIN is needed (${ENV_PIN})")
    try:
        return token.open(user_pin=secret, rw=rw)
    except p11.UserAlreadyLoggedIn:
        # the login belongs to the application, not a session: another provider of this
        # process logged in already, and a new session shares that login
        return token.open(rw=rw)
    except _LOCKED as exc:
        raise TokenPinError(f"token {uri.token!r}: the user PIN was refused "
                            f"({type(exc).__name__})") from None


def reload_module(path: str) -> None:
    """Make a module loaded earlier in this process read its configuration again (SoftHSM2
    reads ``$SOFTHSM2_CONF`` when initialised; a test points it at a fresh directory).
    Every session of the module ends."""
    try:
        pkcs11.lib(path).reinitialize()
    except (RuntimeError, OSError, p11.PKCS11Error) as exc:
        raise HSMModuleError(f"cannot load the PKCS#11 module {path} ({exc})") from None


def _token(lib: Any, label: str, path: str) -> pkcs11.Token:
    """The token labelled ``label``; a module loaded earlier in this process is asked again
    after a re-initialisation (it lists the tokens it saw when it was first loaded)."""
    for attempt in (1, 2):
        try:
            return lib.get_token(token_label=label)
        except p11.NoSuchToken:
            if attempt == 2:
                raise TokenMissingError(f"no token labelled {label!r} in {path}") from None
            lib.reinitialize()
        except p11.MultipleTokensReturned:
            raise TokenMissingError(f"more than one token labelled {label!r}") from None
    raise AssertionError("unreachable")  # pragma: no cover


class TokenKeyProvider(KeyProvider):
    """Master keys in a PKCS#11 token; every operation runs inside it."""

    def __init__(self, session: pkcs11.Session, label: str, lock: threading.Lock | None = None,
                 module: str = DEFAULT_MODULE) -> None:
        self._session = session
        self._label = label
        self._lock = lock or module_lock(module)
        self._module = module
        self._masters: dict[str, HeldKey] = {}
        self._macs: dict[Algorithm, p11c.MacCall] = {}

    @classmethod
    def open(cls, uri: PKCS11URI, pin: str | Callable[[], str], *, rw: bool = False
             ) -> TokenKeyProvider:
        """Log in to the token ``uri`` names (its ``object`` is ignored here); ``rw`` for the
        key ceremony, which writes token objects."""
        path = module_path(uri)
        with module_lock(path):
            session = open_token(uri, pin, rw=rw)
        return cls(session, uri.token, module_lock(path), path)

    def __repr__(self) -> str:
        return f"TokenKeyProvider({self._label})"

    def close(self) -> None:
        with self._lock:
            self._session.close()

    @property
    def session(self) -> pkcs11.Session:
        """The logged-in session (for the key ceremony)."""
        return self._session

    def info(self) -> list[KeyInfo]:
        # a 3DES key's left half (LEFT_HALF, host.hsm.ceremony) goes with its key: not listed
        with self._lock:
            keys = [self._held(obj) for obj in self._session.get_objects(
                {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.TOKEN: True})
                if not str(obj[Attribute.LABEL]).endswith(LEFT_HALF)]
        return [KeyInfo(k.name, k.algorithm.value, k.length, self.kcv(k).hex().upper())
                for k in sorted(keys, key=lambda k: k.name)]

    def key(self, name: str, algorithm: Algorithm | None = None) -> HeldKey:
        """The master ``name``, looked up once (a token object: the ceremony never
        overwrites one)."""
        with self._lock:
            held = self._masters.get(name)
            if held is None:
                held = self._masters[name] = self._find(name)
        check_algorithm(name, held.algorithm, algorithm)
        return held

    def _find(self, name: str) -> HeldKey:
        try:
            obj = self._session.get_key(label=name)
        except p11.NoSuchKey:
            raise KeyObjectMissingError(f"token {self._label!r} holds no key "
                                        f"{name!r}") from None
        except p11.MultipleObjectsReturned:
            raise KeyObjectMissingError(f"token {self._label!r} holds more than one "
                                        f"object {name!r}") from None
        if not isinstance(obj, pkcs11.SecretKey):
            raise WrongKeyTypeError(f"object {name!r} is not a secret key")
        return self._held(obj)

    def _held(self, obj: Any) -> HeldKey:
        key_type = obj.key_type
        if key_type not in _KEY_TYPES:
            raise WrongKeyTypeError(f"key {obj.label!r} is a {key_type.name} key; "
                                    "the project uses AES, DES2/DES3 and DES")
        return HeldKey(obj.label, _KEY_TYPES[key_type], obj[Attribute.VALUE_LEN]
                       if key_type is KeyType.AES else _DES_LENGTHS[key_type], obj)

    def derive(self, parent: HeldKey, data: bytes, algorithm: Algorithm | None = None
               ) -> HeldKey:
        """A derived key (a card's DTK or ICC master key, a session key) made by the module's
        own ``C_DeriveKey`` (:mod:`.p11c` says why): its handle only."""
        algorithm = algorithm or parent.algorithm
        template = _derived_template(algorithm, len(data))
        with self._lock:
            handle = p11c.derive_key(self._module, self._handle, _raw(parent),
                                     _DERIVE[parent.algorithm].value, bytes(data), template)
        return HeldKey(f"{parent.name}*", algorithm, len(data), ObjectHandle(handle))

    def derive_folded(self, parent: HeldKey, data: bytes) -> HeldKey:
        """The 3DES purse TAC key: the one place a card key (the DTK, never a master) is in
        this process, for microseconds, in a buffer zeroed after (:mod:`.fold`)."""
        from .fold import fold_into_token

        if parent.algorithm is not Algorithm.TDES:
            raise HSMUnsupportedError(f"key {parent.name}: the 3DES purse TAC key is folded "
                                      "from a 3DES master")
        label = f"dualcard-tac-{secrets.token_hex(8)}"
        with self._lock:
            handle = fold_into_token(self._module, self._handle, _raw(parent), bytes(data),
                                     label)
        return HeldKey(f"{parent.name}*/folded", Algorithm.TDES, 16, ObjectHandle(handle))

    def encrypt_ecb(self, key: HeldKey, data: bytes) -> bytes:
        out = ctypes.create_string_buffer(len(data))
        with self._lock:
            p11c.encrypt_into(self._module, self._handle, _raw(key), _ECB[key.algorithm].value,
                              bytes(data), out)
        return out.raw

    def encrypt_cbc(self, key: HeldKey, data: bytes, iv: bytes | None = None) -> bytes:
        iv = bytes(iv) if iv is not None else bytes(key.algorithm.block_size)
        out = ctypes.create_string_buffer(len(data))
        with self._lock:
            p11c.encrypt_into(self._module, self._handle, _raw(key), _CBC[key.algorithm].value,
                              bytes(data), out, iv)
        return out.raw

    def cmac(self, key: HeldKey, data: bytes) -> bytes:
        call = self._macs.get(key.algorithm) or self._mac_call(key.algorithm)
        with self._lock:
            return call(_raw(key), bytes(data))

    def _mac_call(self, algorithm: Algorithm) -> p11c.MacCall:
        """This session's CMAC call for keys of ``algorithm``, made on first use."""
        mechanism = _CMAC.get(algorithm)
        if mechanism is None:
            raise HSMUnsupportedError(f"no {algorithm.value} CMAC in a PKCS#11 token")
        call = self._macs[algorithm] = p11c.MacCall(self._module, self._handle,
                                                    mechanism.value, algorithm.block_size)
        return call

    def discard(self, key: HeldKey) -> None:
        with self._lock:
            if isinstance(key.handle, ObjectHandle):
                p11c.destroy_object(self._module, self._handle, key.handle.handle)
            else:
                _object(key).destroy()

    @property
    def _handle(self) -> int:
        session: Any = self._session  # its handle is not in python-pkcs11's stubs
        return int(session.handle)

    # -- putting card keys on a card (host.hsm.sealing) ---------------------------------
    def derive_card_key(self, parent: HeldKey, data: bytes, *, readable: bool = False,
                        odd_parity: bool = False) -> HeldKey:
        """A card key to be wrapped under a DEK (see :func:`.sealing.wrap_template`), made by
        the module's own ``C_DeriveKey`` (:mod:`.p11c` says why): its handle only."""
        algorithm = parent.algorithm
        template = _card_key_template(algorithm, len(data), readable, odd_parity)
        with self._lock:
            handle = p11c.derive_key(self._module, self._handle, _raw(parent),
                                     _DERIVE[algorithm].value, bytes(data), template)
        return HeldKey(f"{parent.name}*", algorithm, len(data), ObjectHandle(handle))

    def create_session_key(self, template: dict[Attribute, Any]) -> int:
        """A session key object from ``template`` (a channel's DEK, whose value is known):
        its handle (made by the module's own ``C_CreateObject``, :mod:`.p11c`)."""
        from pkcs11.attributes import AttributeMapper

        mapper = AttributeMapper()
        values = [(int(kind), ctypes.create_string_buffer(packed, len(packed)), len(packed))
                  for kind, value in template.items()
                  for packed in (mapper.pack_attribute(kind, value),)]
        try:
            with self._lock:
                return p11c.create_object(self._module, self._handle, values)
        finally:
            for _, buffer, length in values:  # the DEK's value was one of them
                ctypes.memset(buffer, 0, length)

    def destroy_object(self, obj: int) -> None:
        with self._lock:
            p11c.destroy_object(self._module, self._handle, obj)

    def encrypt_object_cbc(self, obj: int, data: bytes, iv: bytes) -> bytes:
        """AES-CBC encryption of known blocks under a key object of the session."""
        out = ctypes.create_string_buffer(len(data))
        with self._lock:
            p11c.encrypt_into(self._module, self._handle, obj, _CBC[Algorithm.AES].value,
                              bytes(data), out, bytes(iv))
        return out.raw

    def wrap_cbc(self, wrapping: int, key: HeldKey, iv: bytes) -> bytes:
        """``C_WrapKey(CKM_AES_CBC, iv)`` of the card key ``key`` under the object
        ``wrapping`` (:meth:`create_session_key`)."""
        with self._lock:
            return p11c.wrap_key(self._module, self._handle, Mechanism.AES_CBC.value,
                                 bytes(iv), wrapping, _card_key(key), key.length)

    def read_value_into(self, key: HeldKey, out: bytearray, offset: int) -> None:
        """Write a *readable* card key's value into ``out`` at ``offset`` (the 3DES
        exception of docs/hsm.md)."""
        with self._lock:
            p11c.get_value_into(self._module, self._handle, _card_key(key), out, offset)

    def session_objects(self) -> int:
        """How many session objects this session sees (none once a run is done)."""
        with self._lock:
            return sum(1 for _ in self._session.get_objects({Attribute.TOKEN: False}))


_DES_LENGTHS = {KeyType.DES2: 16, KeyType.DES3: 24, KeyType._DES: 8}


class ObjectHandle:
    """The object handle of a session key this provider made by the module's own calls
    (:meth:`TokenKeyProvider.derive`, :meth:`~TokenKeyProvider.derive_card_key`,
    :meth:`~TokenKeyProvider.derive_folded`): no Python object of it is made."""

    __slots__ = ("handle",)

    def __init__(self, handle: int) -> None:
        self.handle = handle

    def __repr__(self) -> str:
        return "ObjectHandle()"


def _card_key(key: HeldKey) -> int:
    if not isinstance(key.handle, ObjectHandle):
        raise WrongKeyTypeError(f"key {key.name} is not a card key made by this token")
    return key.handle.handle


def _raw(key: HeldKey) -> int:
    """The object handle of any key of this token: a master's or a session key's."""
    if isinstance(key.handle, ObjectHandle):
        return key.handle.handle
    return int(_object(key).handle)


@pure_cache(maxsize=32)
def _derived_template(algorithm: Algorithm, length: int) -> p11c.Template:
    """What python-pkcs11's ``derive_key`` sent for a derived key (its default secret key
    template with :data:`_USES`, then :func:`secret_key_template`), packed once.

    A session object is seen by this application only; not marking it private spares
    SoftHSM2 encrypting it in memory (derive and destroy: 335 -> 137 us). It stays sensitive
    and not extractable: its value still never leaves."""
    from pkcs11.attributes import AttributeMapper

    mapper = AttributeMapper()
    template = {**mapper.secret_key_template(capabilities=_USES, id_=None, label=None,
                                             store=False),
                Attribute.VALUE_LEN: length, **secret_key_template(algorithm, length),
                Attribute.TOKEN: False, Attribute.PRIVATE: False}
    if algorithm is not Algorithm.AES:
        del template[Attribute.VALUE_LEN]  # a DES key's length is its type's
    return p11c.Template([(int(kind), mapper.pack_attribute(kind, value))
                          for kind, value in template.items()])


@pure_cache(maxsize=32)
def _card_key_template(algorithm: Algorithm, length: int, readable: bool, odd_parity: bool
                       ) -> p11c.Template:
    """What python-pkcs11's ``derive_key`` would send for a card key (its default secret
    key template with the encrypt capability, then :func:`.sealing.wrap_template`), packed
    once."""
    from pkcs11.attributes import AttributeMapper

    from .sealing import wrap_template

    mapper = AttributeMapper()
    wanted = wrap_template(algorithm, length, readable=readable, odd_parity=odd_parity)
    template = {**mapper.secret_key_template(capabilities=MechanismFlag.ENCRYPT, id_=None,
                                             label=None, store=False),
                Attribute.KEY_TYPE: wanted[Attribute.KEY_TYPE], Attribute.VALUE_LEN: length,
                **wanted}
    if template[Attribute.KEY_TYPE] not in (KeyType.AES, KeyType.GENERIC_SECRET):
        del template[Attribute.VALUE_LEN]  # a DES key's length is its type's
    return p11c.Template([(int(kind), mapper.pack_attribute(kind, value))
                          for kind, value in template.items()])


def _object(key: HeldKey) -> Any:
    """The key object (typed ``Any``: python-pkcs11 mixes encrypt/sign/derive in at run
    time, by key type)."""
    if not isinstance(key.handle, pkcs11.SecretKey):
        raise WrongKeyTypeError(f"key {key.name} is not held by this token")
    return key.handle
