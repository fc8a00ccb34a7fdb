"""The key ceremony on a token: initialise it, import master keys by components, list and
check them. Nothing here (or anywhere in the project) reads a key out of a token.

Components are checked against their KCVs and combined by :func:`host.keystore.
combine_components` (the same dual control as the key file); the combined key is written
into the token as a token object, sensitive and not extractable, and its KCV is then
computed *by the token* and compared with the one the key's owner published. The combined
value lives in this process only between the XOR and the import (docs/hsm.md says why and
what a production HSM does instead).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pkcs11 import Attribute

from apdu_specs.crypto.ciphers import Algorithm
from host.keystore import KeyCheckError, KeyComponent, MasterKey, combine_components

from .errors import HSMError, HSMUnsupportedError, KeyObjectMissingError
from .provider import LEFT_HALF, left_half_name
from .token import DEFAULT_MODULE, TokenKeyProvider, secret_key_template

__all__ = ["LEFT_HALF", "KeyCheck", "check_keys", "import_components", "import_key",
           "init_softhsm_token", "left_half_name"]

#: a master key may only make keys and MACs; it never encrypts data for anybody
_MASTER_USES = {Attribute.DERIVE: True, Attribute.ENCRYPT: True, Attribute.SIGN: True}


def init_softhsm_token(label: str, so_pin: str, user_pin: str, module: str = DEFAULT_MODULE
                       ) -> None:
    """Initialise a free SoftHSM2 slot as token ``label`` (PKCS#11 has no portable call for
    this that python-pkcs11 exposes; a production HSM is initialised with its vendor's tool)."""
    tool = shutil.which("softhsm2-util")
    if tool is None or "softhsm" not in module:
        raise HSMUnsupportedError("dualcard hsm init initialises SoftHSM2 tokens only; "
                                  "initialise another HSM with its vendor's tool")
    done = subprocess.run([tool, "--init-token", "--free", "--label", label,
                           "--so-pin", so_pin, "--pin", user_pin],
                          capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise HSMError(f"softhsm2-util could not initialise {label!r}: "
                       f"{(done.stderr or done.stdout).strip().splitlines()[-1:]}")


def import_key(provider: TokenKeyProvider, key: MasterKey) -> str:
    """Write ``key`` into the token as a persistent object labelled with its name; returns
    the KCV the token computes, which must be the key's."""
    if key.algorithm is Algorithm.SM4:
        raise HSMUnsupportedError(f"key {key.name}: a PKCS#11 token holds no "
                                  f"{key.algorithm.value} keys")
    try:
        provider.key(key.name)
    except KeyObjectMissingError:
        pass
    else:
        raise HSMError(f"the token already holds a key {key.name!r}; keys are never "
                       "overwritten (destroy it with the vendor's tool first)")
    template: dict[Attribute, Any] = {**secret_key_template(key.algorithm, len(key.value)),
                                      **_MASTER_USES, Attribute.TOKEN: True,
                                      Attribute.PRIVATE: True,
                                      Attribute.LABEL: key.name, Attribute.VALUE: key.value}
    provider.session.create_object(template)
    if key.algorithm is Algorithm.TDES and len(key.value) == 16:
        _import_left_half(provider, key)
    held = provider.key(key.name, key.algorithm)
    token_kcv = provider.kcv(held)
    if token_kcv != key.kcv:
        raise KeyCheckError(f"key {key.name}: the token computes KCV "
                            f"{token_kcv.hex().upper()}, expected {key.kcv_hex}")
    return token_kcv.hex().upper()


def _import_left_half(provider: TokenKeyProvider, key: MasterKey) -> None:
    """The companion ``<name>.left``: ``K1 || K1``, which 3DES turns into single DES under
    K1, for encryption only. A CVV (ISO/IEC 9797-1 MAC algorithm 3 over two blocks) starts
    with single DES under the CVK's left half, and PKCS#11 has no mechanism taking half of a
    key: the half is made here, from the combined value the import holds anyway."""
    template: dict[Attribute, Any] = {
        **secret_key_template(Algorithm.TDES, 16), Attribute.DERIVE: False,
        Attribute.SIGN: False, Attribute.ENCRYPT: True, Attribute.TOKEN: True,
        Attribute.PRIVATE: True, Attribute.LABEL: left_half_name(key.name),
        Attribute.VALUE: key.value[:8] * 2}
    provider.session.create_object(template)


def import_components(provider: TokenKeyProvider, name: str, algorithm: Algorithm,
                      parts: Sequence[KeyComponent], combined_kcv: bytes) -> str:
    """Check and combine ``parts`` (dual control) and import the key; the token's KCV."""
    return import_key(provider, combine_components(name, algorithm, parts, combined_kcv))


@dataclass(frozen=True)
class KeyCheck:
    """One key object of the token as ``hsm check`` sees it."""

    name: str
    algorithm: str
    kcv: str
    sensitive: bool
    extractable: bool

    @property
    def ok(self) -> bool:
        return self.sensitive and not self.extractable


def check_keys(provider: TokenKeyProvider) -> list[KeyCheck]:
    """Every secret key of the token: KCV (computed in it) and its protection flags."""
    checks = []
    for info in provider.info():
        objects: list[Any] = [provider.key(info.name).handle, *_left_half(provider, info.name)]
        checks.append(KeyCheck(info.name, info.algorithm, info.kcv,
                               all(bool(o[Attribute.SENSITIVE]) for o in objects),
                               any(bool(o[Attribute.EXTRACTABLE]) for o in objects)))
    return checks


def _left_half(provider: TokenKeyProvider, name: str) -> list[Any]:
    """The companion of a 3DES key (checked with it), if it has one."""
    try:
        return [provider.key(left_half_name(name)).handle]
    except KeyObjectMissingError:
        return []
