"""Card keys put on a card encrypted under the secure channel's DEK, by a token.

Personalisation sends every card key encrypted under the DEK of the channel it runs in:
PUT KEY's key fields and the secret DGIs of STORE DATA (:mod:`apdu_specs.commands.gp_extra`:
AES-CBC with a zero IV for SCP03, 3DES-ECB for SCP02, the DGI padded with ``80 00..``).
:class:`TokenSealer` makes exactly those bytes with the card keys derived in the token:

- **AES.** The DEK is imported as a session object that can only wrap and encrypt. Each
  card key is derived as a session object, sensitive and extractable only so that the
  token can wrap it, wrapped with ``CKM_AES_CBC`` under the DEK — the IV being the
  previous ciphertext block, which chains the keys of one DGI as CBC does — and destroyed
  at once (a key derived when the card was planned, for its KCV, is taken from
  :attr:`TokenSealer.made` instead of being derived again). The known blocks of a DGI (a
  header, the padding) are encrypted under the same DEK object. No card key value enters
  this process.
- **3DES** (docs/hsm.md, the exception): SoftHSM2 has no 3DES wrap. The card key is derived
  as a session object that is *not* sensitive, its value read into a ``bytearray`` that
  this module owns, the object destroyed, the DGI encrypted here, and the buffer
  overwritten with zeros before :meth:`TokenSealer.seal` returns. The master never leaves.

Card keys are named by :class:`~.recipe.KeyRecipe` (master and diversification data).
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from pkcs11 import Attribute, KeyType, ObjectClass

from apdu_specs.commands.gp_extra import KEY_TYPES
from apdu_specs.crypto.ciphers import Algorithm

from .errors import HSMUnsupportedError
from .provider import HeldKey
from .recipe import KeyRecipe, Part
from .token import TokenKeyProvider, p11_key_type, secret_key_template

__all__ = ["TokenSealer", "exposure_stats", "wrap_template"]


@dataclass
class _Exposure:
    """How long 3DES card key values were in this process (the documented exception)."""

    count: int = 0
    total_ns: int = 0
    longest_ns: int = 0

    def add(self, ns: int) -> None:
        self.count += 1
        self.total_ns += ns
        self.longest_ns = max(self.longest_ns, ns)


_EXPOSURE = _Exposure()


def exposure_stats() -> tuple[int, int, int]:
    """(buffers of card keys read out, total ns, longest ns) of the 3DES exception in this
    process: how long card key values were here, from the first read to the wipe."""
    return _EXPOSURE.count, _EXPOSURE.total_ns, _EXPOSURE.longest_ns


@dataclass
class TokenSealer:
    """Encrypts secret values under one channel's DEK with the card keys made in the token.

    ``dek``: the DEK's value. At a first personalisation it is the card maker's transport
    key (SCP03's static DEK) or the session DEK derived from it (SCP02): a known value, not
    the issuer's. It is imported as a session object that wraps and encrypts only, and
    destroyed by :meth:`close`.
    """

    provider: TokenKeyProvider
    algorithm: Algorithm
    dek: bytes = field(repr=False)
    #: card keys derived before (for their KCVs, as :meth:`_derived` would derive them):
    #: each is taken from here, used once and destroyed
    made: dict[KeyRecipe, HeldKey] = field(default_factory=dict, repr=False)
    _object: Any = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.algorithm not in (Algorithm.AES, Algorithm.TDES):
            raise HSMUnsupportedError(f"a token seals no {self.algorithm.value} keys")
        if self.algorithm is Algorithm.AES:
            self._object = self.provider.create_session_key({
                Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.TOKEN: False,
                Attribute.PRIVATE: False,
                Attribute.KEY_TYPE: p11_key_type(self.algorithm, len(self.dek)),
                Attribute.VALUE: bytes(self.dek), Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False, Attribute.WRAP: True, Attribute.ENCRYPT: True,
                Attribute.UNWRAP: False, Attribute.DECRYPT: False, Attribute.DERIVE: False,
                Attribute.SIGN: False})

    def close(self) -> None:
        """Destroy the DEK object (a session object would go with the session anyway)."""
        if self._object is not None:
            self.provider.destroy_object(self._object)
            self._object = None

    def __enter__(self) -> TokenSealer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def block(self) -> int:
        return self.algorithm.block_size

    def seal(self, parts: Sequence[Part]) -> bytes:
        """The encrypted DGI content of ``parts`` joined and padded (``80 00..``)."""
        padded = _padded(parts, self.block)
        if self.algorithm is Algorithm.AES:
            return self._seal_aes(padded)
        return self._seal_tdes(padded)

    def key_component(self, recipe: KeyRecipe) -> tuple[dict[str, object], bytes]:
        """One PUT KEY entry for the card key ``recipe`` and its KCV (computed in the
        token): the key field as :func:`~apdu_specs.commands.gp_extra.encode_key_component`
        makes it."""
        if self.algorithm is Algorithm.AES:
            with self._derived(recipe) as key:
                check = self.provider.kcv(key)
                if recipe.length % self.block:
                    raise HSMUnsupportedError(f"{recipe!r}: not a whole number of blocks")
                field_ = bytes([recipe.length]) + self._wrap(key, bytes(self.block))
                return {"type": KEY_TYPES[self.algorithm], "key": field_, "kcv": check}, check
        field_, check = self._readout_encrypt(recipe)
        return {"type": KEY_TYPES[self.algorithm], "key": field_, "kcv": check}, check

    # -- AES: everything in the token -------------------------------------------------------
    def _seal_aes(self, parts: Sequence[Part]) -> bytes:
        out = bytearray()
        iv = bytes(self.block)
        for part in parts:
            if isinstance(part, KeyRecipe):
                with self._derived(part) as key:
                    chunk = self._wrap(key, iv)
            else:
                chunk = self.provider.encrypt_object_cbc(self._object, part, iv)
            out += chunk
            iv = chunk[-self.block:]
        return bytes(out)

    def _wrap(self, key: HeldKey, iv: bytes) -> bytes:
        return self.provider.wrap_cbc(self._object, key, iv)

    @contextmanager
    def _derived(self, recipe: KeyRecipe) -> Iterator[HeldKey]:
        """The card key as a session object, destroyed when the block ends (also on error).

        AES: sensitive, extractable only so the token can wrap it, able to encrypt (its KCV)
        and nothing else. 3DES: not sensitive (its value is read once, see the module doc).
        """
        readable = self.algorithm is not Algorithm.AES
        key = None if readable else self.made.pop(recipe, None)
        if key is None:
            key = self.provider.derive_card_key(recipe.master, recipe.data, readable=readable,
                                                odd_parity=recipe.odd_parity)
        try:
            yield key
        finally:
            self.provider.discard(key)

    # -- 3DES: the documented exception ----------------------------------------------------
    def _seal_tdes(self, parts: Sequence[Part]) -> bytes:
        plain = bytearray(sum(_length(p) for p in parts))  # sized once: it never moves
        started: int | None = None
        offset = 0
        try:
            for part in parts:
                if isinstance(part, KeyRecipe):
                    with self._derived(part) as key:
                        started = started if started is not None else time.perf_counter_ns()
                        self.provider.read_value_into(key, plain, offset)
                else:
                    plain[offset:offset + len(part)] = part
                offset += _length(part)
            return _tdes_ecb(self.dek, plain)
        finally:
            _wipe(plain)
            if started is not None:
                _EXPOSURE.add(time.perf_counter_ns() - started)

    def _readout_encrypt(self, recipe: KeyRecipe) -> tuple[bytes, bytes]:
        """A 3DES card key under the DEK, and its KCV (both computed here)."""
        plain = bytearray(recipe.length)
        started: int | None = None
        try:
            with self._derived(recipe) as key:
                started = time.perf_counter_ns()
                self.provider.read_value_into(key, plain, 0)
            return _tdes_ecb(self.dek, plain), _tdes_ecb(plain, bytearray(8))[:3]
        finally:
            _wipe(plain)
            if started is not None:
                _EXPOSURE.add(time.perf_counter_ns() - started)


def _length(part: Part) -> int:
    return part.length if isinstance(part, KeyRecipe) else len(part)


def _padded(parts: Sequence[Part], block: int) -> list[Part]:
    """``parts`` with ``80 00..`` appended and the known bytes merged, checking that every
    card key starts and ends on a block boundary (a token encrypts whole blocks)."""
    length = sum(_length(p) for p in parts)
    padding = b"\x80" + bytes(-(length + 1) % block)
    merged: list[Part] = []
    offset = 0
    for part in [*parts, padding]:
        if isinstance(part, KeyRecipe):
            if offset % block or part.length % block:
                raise HSMUnsupportedError(f"{part!r} is not on whole blocks of the DGI; a "
                                          "token cannot encrypt it under the DEK")
            merged.append(part)
            offset += part.length
            continue
        if merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        else:
            merged.append(bytes(part))
        offset += len(part)
    return merged


def _tdes_ecb(key: bytes | bytearray, plain: bytearray) -> bytes:
    """3DES-ECB of a buffer under a double-length key, with no copy of either left here
    (the three-key form ``K1 K2 K1`` is built in a buffer that is wiped)."""
    full = bytearray(24)
    try:
        full[:16], full[16:] = key, key[:8]
        # cryptography takes any buffer (its stub says bytes): no immutable copy is made here
        encryptor = Cipher(TripleDES(full), modes.ECB()).encryptor()  # type: ignore[arg-type]
        return encryptor.update(plain) + encryptor.finalize()
    finally:
        _wipe(full)


def _wipe(buffer: bytearray) -> None:
    """Overwrite a buffer that held key values with zeros."""
    if buffer:
        ctypes.memset((ctypes.c_char * len(buffer)).from_buffer(buffer), 0, len(buffer))


def wrap_template(algorithm: Algorithm, length: int, *, readable: bool,
                  odd_parity: bool = False) -> dict[Attribute, Any]:
    """A card key made to be put on a card: a session object that encrypts (its KCV) and
    nothing else; extractable so that the token can wrap it (AES), or, for the 3DES
    exception, not sensitive so that its value can be read once. A token sets the parity
    bits of a DES key it derives: a 3DES card key whose scheme does not is made as a
    generic secret, which keeps ECB's output as it is."""
    template = secret_key_template(algorithm, length)
    if readable and not odd_parity:
        template[Attribute.KEY_TYPE] = KeyType.GENERIC_SECRET
    template.update({Attribute.TOKEN: False, Attribute.PRIVATE: False,
                     Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: not readable,
                     Attribute.DERIVE: False, Attribute.SIGN: False, Attribute.ENCRYPT: True})
    return template
