"""Key specifications as operators write them (GlobalPlatformPro conventions, ecosystem §3.5).

``SPEC`` is ``[SCHEME:]SOURCE``:

- SCHEME: ``emv`` or ``visa2`` (3DES master keys, card keys diversified with the KDD
  from INITIALIZE UPDATE), ``kdf3`` (AES or SM4 master keys), or none (the keys are the
  card's keys as they are);
- SOURCE: ``default`` — the public GP test key 40..4F, the only key value ever
  accepted in a spec; ``env:NAME`` — hex in environment variable NAME, or in NAME_ENC,
  NAME_MAC and NAME_DEK for three different keys; ``file:PATH[#ENTRY]`` — an entry of a
  key file; ``prompt`` — asked for interactively; a bare ``NAME`` — entry NAME of
  the key file given to the resolver, else environment variable NAME.

A key file is either the issuer key file that ``dualcard perso keys new`` writes (JSON,
optionally sealed: its passphrase comes from ``$DUALCARD_KEYS_PASSPHRASE`` or the
prompt) — so ``kdf3:file:issuer.json#isd`` opens a card personalised from it — or a
small TOML file:

Key values themselves are refused in a spec: a command line ends up in shell history and
in ``ps``. TOML key file::

    [issuer]                # one entry: one key for ENC, MAC and DEK …
    key = "4041…4F"
    [issuer-split]          # … or three
    enc = "…"
    mac = "…"
    dek = "…"

Nothing here prints, logs or formats a key: reprs and descriptions show KCVs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apdu_specs.commands.gp_extra import GP_TEST_KEY
from apdu_specs.crypto.ciphers import Algorithm, KeyCiphers
from apdu_specs.crypto.diversify import Diversification
from apdu_specs.crypto.errors import CryptoError
from apdu_specs.crypto.kcv import kcv
from apdu_specs.crypto.keyset import StaticKeys
from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

from ..files import parse_toml, read_text
from .errors import KeySpecError

__all__ = ["KeyResolver", "KeySpec", "MasterKeys", "parse_key_spec"]

ENV_PASSPHRASE = "DUALCARD_KEYS_PASSPHRASE"

_SCHEMES = {d.value: d for d in Diversification}
_3DES_SCHEMES = (Diversification.EMV_CPS, Diversification.VISA2)


#: how many chips' key sets a spec keeps: a run asks for one chip's keys several times
#: (the secure channel, PUT KEY, the KCVs of the audit, the read-back), chip after chip
_KEPT_CARD_KEYS = 16


@dataclass(frozen=True, repr=False)
class MasterKeys:
    """ENC, MAC and DEK as given (master keys when a scheme diversifies them)."""

    enc: bytes
    mac: bytes
    dek: bytes

    @classmethod
    def single(cls, key: bytes) -> MasterKeys:
        return cls(key, key, key)

    def kcvs(self, algorithm: Algorithm) -> tuple[bytes, bytes, bytes]:
        try:
            return (kcv(algorithm, self.enc), kcv(algorithm, self.mac), kcv(algorithm, self.dek))
        except CryptoError as exc:
            raise KeySpecError(f"keys do not suit {algorithm.value}: {exc}") from None

    def __repr__(self) -> str:
        return f"MasterKeys({len(self.enc)}/{len(self.mac)}/{len(self.dek)} bytes)"


@dataclass(frozen=True, repr=False)
class KeySpec:
    """Resolved keys, how to turn them into a card's keys, and where they came from."""

    keys: MasterKeys
    scheme: Diversification | None = None
    source: str = "default"

    @property
    def text(self) -> str:
        """The spec as written (no key material)."""
        return f"{self.scheme.value}:{self.source}" if self.scheme else self.source

    def __post_init__(self) -> None:
        # What the spec derives stays with it (and goes with it): the last few chips' key
        # sets, and the cipher of the master key every chip's keys are diversified from.
        object.__setattr__(self, "_card_keys", {})
        object.__setattr__(self, "_master", KeyCiphers(2))

    def card_keys(self, kdd: bytes, algorithm: Algorithm) -> StaticKeys:
        """The card's static keys: diversified with ``kdd`` if the spec has a scheme."""
        kept: dict[tuple[bytes, Algorithm], StaticKeys] = self.__dict__["_card_keys"]
        kdd = bytes(kdd) if self.scheme else b""  # keys used as given do not depend on it
        found = kept.get((kdd, algorithm))
        if found is None:
            try:
                found = self._make_card_keys(kdd, algorithm)
            except CryptoError as exc:
                raise KeySpecError(f"{self.text}: {exc}") from None
            if len(kept) >= _KEPT_CARD_KEYS:
                kept.clear()
            kept[kdd, algorithm] = found
        return found

    def _make_card_keys(self, kdd: bytes, algorithm: Algorithm) -> StaticKeys:
        keys = self.keys
        if self.scheme is None:
            return StaticKeys(keys.enc, keys.mac, keys.dek, algorithm)
        if self.scheme in _3DES_SCHEMES and algorithm is not Algorithm.TDES:
            raise KeySpecError(f"{self.scheme.value}: diversification makes 3DES keys, "
                               f"this card uses {algorithm.value} (use kdf3:)")
        if self.scheme is Diversification.KDF3 and algorithm is Algorithm.TDES:
            raise KeySpecError("kdf3: diversification makes AES/SM4 keys, this card uses 3DES")
        if len({keys.enc, keys.mac, keys.dek}) != 1:
            raise KeySpecError(f"{self.scheme.value}: diversification takes one master key")
        master_algorithm = Algorithm.TDES if self.scheme in _3DES_SCHEMES else algorithm
        master: KeyCiphers = self.__dict__["_master"]
        cipher = master.of(master_algorithm, bytes(keys.enc))
        return StaticKeys.from_master(cipher, kdd, self.scheme, algorithm)

    def describe(self, algorithm: Algorithm) -> str:
        """``SPEC (KCV enc=… mac=… dek=…)`` of the keys as given."""
        enc, mac, dek = (k.hex().upper() for k in self.keys.kcvs(algorithm))
        return f"{self.text} (KCV enc={enc} mac={mac} dek={dek})"

    def __repr__(self) -> str:
        return f"KeySpec({self.text})"


class KeyResolver:
    """Turns spec strings into :class:`KeySpec`; every source is injectable for tests."""

    def __init__(self, *, env: Mapping[str, str] | None = None, key_file: str | Path | None = None,
                 prompt: Callable[[str], str] | None = None,
                 notice: Callable[[str], None] | None = None) -> None:
        self._env = os.environ if env is None else env
        self._key_file = Path(key_file) if key_file else None
        self._prompt = prompt
        self._notice = notice  # told when a passphrase comes from the environment

    def parse(self, text: str) -> KeySpec:
        text = text.strip()
        scheme = None
        head, sep, rest = text.partition(":")
        if sep and head.lower() in _SCHEMES:
            scheme, text = _SCHEMES[head.lower()], rest
        return KeySpec(self._resolve(text), scheme, text)

    # --- sources -----------------------------------------------------------------------
    def _resolve(self, source: str) -> MasterKeys:
        kind, sep, ref = source.partition(":")
        if source.lower() == "default":
            return MasterKeys.single(GP_TEST_KEY)
        if source.lower() == "prompt":
            return self._from_prompt()
        if sep and kind.lower() == "env":
            return self._from_env(ref)
        if sep and kind.lower() == "file":
            path, _, entry = ref.partition("#")
            return self._from_file(Path(path), entry or None)
        if not source or _looks_like_hex(source):
            raise KeySpecError("key values are not accepted in a key spec (they would show in "
                               "shell history and ps): use env:NAME, file:PATH#ENTRY or prompt")
        if self._key_file is not None:
            return self._from_file(self._key_file, source)
        if source in self._env or f"{source}_ENC" in self._env:
            return self._from_env(source)
        raise KeySpecError(f"{source!r} names no key: give a key file or set ${source}")

    def _from_env(self, name: str) -> MasterKeys:
        if name in self._env:
            return MasterKeys.single(_key(self._env[name], f"${name}"))
        parts = [f"{name}_{p}" for p in ("ENC", "MAC", "DEK")]
        if all(p in self._env for p in parts):
            enc, mac, dek = (_key(self._env[p], f"${p}") for p in parts)
            return MasterKeys(enc, mac, dek)
        raise KeySpecError(f"environment variable {name} (or {name}_ENC/_MAC/_DEK) is not set")

    def _from_file(self, path: Path, entry: str | None) -> MasterKeys:
        text = read_text(path)
        if text.lstrip().startswith("{"):
            return self._from_issuer_key_file(path, entry)
        tables = parse_toml(text, str(path))
        if entry is None:
            if len(tables) != 1:
                raise KeySpecError(f"key file {path} has {len(tables)} entries: "
                                   "name one with #ENTRY")
            entry = next(iter(tables))
        table = tables.get(entry)
        if not isinstance(table, dict):
            raise KeySpecError(f"key file {path} has no entry [{entry}]")
        return _keys_from_table(table, f"{path}#{entry}")

    def _from_issuer_key_file(self, path: Path, entry: str | None) -> MasterKeys:
        from host.keystore import KeyFile, KeyStoreError, SecretSource

        def passphrase() -> str:
            source = SecretSource(f"passphrase of {path}", ENV_PASSPHRASE, None, self._prompt,
                                  self._notice)
            return source.read(self._env)

        try:
            keys = KeyFile.load(path, passphrase)
            return MasterKeys.single(keys.get(entry or "isd").value)
        except KeyStoreError as exc:
            raise KeySpecError(str(exc)) from None

    def _from_prompt(self) -> MasterKeys:
        if self._prompt is None:
            raise KeySpecError("prompt: no terminal to ask for the key")
        return MasterKeys.single(_key(self._prompt("key (hex, input hidden)"), "the prompt"))


def _looks_like_hex(text: str) -> bool:
    cleaned = text.replace(" ", "")
    return len(cleaned) >= 16 and all(c in "0123456789abcdefABCDEF" for c in cleaned)


def _key(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise KeySpecError(f"{where}: a key must be a hex string")
    try:
        key = parse_hex(text, what="key")
    except HexError:
        raise KeySpecError(f"{where} does not hold a hex key") from None
    if len(key) not in (16, 24, 32):
        raise KeySpecError(f"{where}: a key has 16, 24 or 32 bytes, not {len(key)}")
    return key


def _keys_from_table(table: dict[str, Any], where: str) -> MasterKeys:
    if "key" in table:
        return MasterKeys.single(_key(table["key"], where))
    if all(k in table for k in ("enc", "mac", "dek")):
        return MasterKeys(*(_key(table[k], f"{where}.{k}") for k in ("enc", "mac", "dek")))
    raise KeySpecError(f"{where}: give key = \"…\" or enc, mac and dek")


def parse_key_spec(text: str, **resolver_options: Any) -> KeySpec:
    """Shorthand for ``KeyResolver(**resolver_options).parse(text)``."""
    return KeyResolver(**resolver_options).parse(text)
