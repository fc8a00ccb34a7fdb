"""The issuer's master key file: versioned JSON, optionally sealed with a passphrase.

Layout (format ``dualcard-master-keys``, version 1)::

    {"format": "dualcard-master-keys", "version": 1, "suite": "AES",
     "keys": {"isd": {"algorithm": "AES", "length": 16, "kcv": "E79C05",
                      "value": "<hex>"}, ...}}

A sealed file drops every ``value`` and adds ``"sealed": {scrypt and AES-GCM parameters,
"ciphertext": "<base64>"}`` (:mod:`.sealing`); the key references and KCVs stay readable,
so ``keys list`` works without the passphrase. On load every value is checked against
its KCV, which catches a damaged file before a single card is written. Files are written
atomically with mode 0600.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apdu_specs.documents import json_document

from ..files import read_json
from .errors import KeyFileError, KeyStoreError, PassphraseError, UnknownKeyError
from .master_key import MasterKey, algorithm_named
from .sealing import DEFAULT_COST, SealParameters, open_sealed, seal

__all__ = ["KEY_FILE_FORMAT", "KEY_FILE_VERSION", "KeyFile", "KeyInfo", "is_sealed",
           "read_key_info", "write_private"]

KEY_FILE_FORMAT = "dualcard-master-keys"
KEY_FILE_VERSION = 1

Passphrase = str | Callable[[], str] | None


@dataclass(frozen=True)
class KeyInfo:
    """What may be shown about a key: its reference, algorithm, length and KCV."""

    name: str
    algorithm: str
    length: int
    kcv: str


@dataclass
class KeyFile:
    """The master keys of one issuer, by reference."""

    suite: str
    keys: dict[str, MasterKey] = field(default_factory=dict)

    def __repr__(self) -> str:
        kcvs = ", ".join(f"{k.name}={k.kcv_hex}" for k in self.keys.values())
        return f"KeyFile({self.suite}, {kcvs})"

    def __iter__(self) -> Iterator[MasterKey]:
        return iter(self.keys.values())

    def get(self, name: str) -> MasterKey:
        try:
            return self.keys[name]
        except KeyError:
            known = ", ".join(sorted(self.keys)) or "none"
            raise UnknownKeyError(f"the key file holds no key {name!r} "
                                  f"(it holds: {known})") from None

    def add(self, key: MasterKey, *, replace: bool = False) -> None:
        if key.name in self.keys and not replace:
            raise KeyStoreError(f"the key file already holds {key.name!r} "
                                f"(KCV {self.keys[key.name].kcv_hex})")
        self.keys[key.name] = key

    def info(self) -> list[KeyInfo]:
        return [KeyInfo(k.name, k.algorithm.value, len(k.value), k.kcv_hex)
                for k in sorted(self.keys.values(), key=lambda k: k.name)]

    # --- files -------------------------------------------------------------------------
    def _header(self) -> dict[str, Any]:
        return {"format": KEY_FILE_FORMAT, "version": KEY_FILE_VERSION, "suite": self.suite,
                "keys": {i.name: {"algorithm": i.algorithm, "length": i.length, "kcv": i.kcv}
                         for i in self.info()}}

    def to_json(self, passphrase: str | None = None, *, cost: int = DEFAULT_COST) -> dict[str, Any]:
        data = self._header()
        values = {k.name: k.value.hex().upper() for k in self.keys.values()}
        if passphrase is None:
            for name, value in values.items():
                data["keys"][name]["value"] = value
            return data
        params, ciphertext = seal(json.dumps(values, sort_keys=True).encode(), passphrase,
                                  _canonical(data), cost=cost)
        data["sealed"] = {**params.to_json(), "ciphertext": base64.b64encode(ciphertext).decode()}
        return data

    def save(self, path: str | os.PathLike[str], passphrase: str | None = None, *,
             cost: int = DEFAULT_COST) -> None:
        """Write atomically, mode 0600 (sealed when a passphrase is given)."""
        text = json.dumps(self.to_json(passphrase, cost=cost), indent=2, sort_keys=True) + "\n"
        write_private(Path(path), text)

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: Passphrase = None) -> KeyFile:
        """Read and check a key file; ``passphrase`` (or a callable) opens a sealed one."""
        return cls.from_json(read_json(path, expect=dict), passphrase, where=str(path))

    @classmethod
    def from_json(cls, data: Any, passphrase: Passphrase = None, *,
                  where: str = "key file") -> KeyFile:
        header = _check_header(data, where)
        if "sealed" in data:
            values = _unseal(data, header, passphrase, where)
        else:
            values = {name: entry.get("value") for name, entry in header["keys"].items()}
        keys = {}
        for name, entry in header["keys"].items():
            keys[name] = _entry_key(name, entry, values.get(name), where)
        return cls(header["suite"], keys)


def is_sealed(path: str | os.PathLike[str]) -> bool:
    """True when the key file at ``path`` needs a passphrase."""
    return "sealed" in read_json(path, expect=dict)


def read_key_info(path: str | os.PathLike[str]) -> tuple[str, list[KeyInfo], bool]:
    """Suite, key references with KCVs, and whether the file is sealed — no passphrase needed."""
    data = read_json(path, expect=dict)
    header = _check_header(data, str(path))
    infos = [KeyInfo(name, str(e["algorithm"]), int(e["length"]), str(e["kcv"]).upper())
             for name, e in sorted(header["keys"].items())]
    return header["suite"], infos, "sealed" in data


# --- helpers ------------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _canonical(header: Mapping[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _check_header(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != KEY_FILE_FORMAT:
        raise KeyFileError(f"{where} is not a dualcard master key file")
    if data.get("version") != KEY_FILE_VERSION:
        raise KeyFileError(f"{where}: key file version {data.get('version')!r} is not supported "
                           f"(this dualcard reads version {KEY_FILE_VERSION})")
    keys = data.get("keys")
    if not isinstance(keys, dict) or not isinstance(data.get("suite"), str):
        raise KeyFileError(f"{where}: 'suite' (text) and 'keys' (a table) are required")
    clean: dict[str, Any] = {}
    for name, entry in keys.items():
        if not isinstance(entry, dict) or not {"algorithm", "length", "kcv"} <= set(entry):
            raise KeyFileError(f"{where}: key {name!r} needs algorithm, length and kcv")
        clean[name] = {k: entry[k] for k in ("algorithm", "length", "kcv")}
        if "value" in entry:
            clean[name]["value"] = entry["value"]
    return {"format": KEY_FILE_FORMAT, "version": KEY_FILE_VERSION, "suite": data["suite"],
            "keys": clean}


def _unseal(data: dict[str, Any], header: dict[str, Any], passphrase: Passphrase,
            where: str) -> dict[str, Any]:
    sealed = data["sealed"]
    if passphrase is None:
        raise PassphraseError(f"{where} is encrypted: a passphrase is needed")
    secret = passphrase() if callable(passphrase) else passphrase
    params = SealParameters.from_json(sealed)
    try:
        ciphertext = base64.b64decode(sealed["ciphertext"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise KeyFileError(f"{where}: sealed data is not base64") from None
    aad = {**header, "keys": {n: {k: v for k, v in e.items() if k != "value"}
                              for n, e in header["keys"].items()}}
    plain = open_sealed(ciphertext, secret, _canonical(aad), params)
    values = json_document(plain, f"{where} (sealed data)")
    if not isinstance(values, dict):
        raise KeyFileError(f"{where}: sealed data is not a table of keys")
    return values


def _entry_key(name: str, entry: Mapping[str, Any], value: Any, where: str) -> MasterKey:
    if not isinstance(value, str):
        raise KeyFileError(f"{where}: key {name!r} has no value")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise KeyFileError(f"{where}: key {name!r} is not hex") from None
    key = MasterKey(name, algorithm_named(str(entry["algorithm"])), raw)
    if len(raw) != entry["length"]:
        raise KeyFileError(f"{where}: key {name!r} has {len(raw)} bytes, "
                           f"header says {entry['length']}")
    try:
        expected = bytes.fromhex(str(entry["kcv"]))
    except ValueError:
        raise KeyFileError(f"{where}: key {name!r} KCV is not hex") from None
    key.check(expected)
    return key
