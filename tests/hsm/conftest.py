"""A fresh SoftHSM2 token per test, and the same keys behind the key file and the token."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from apdu_specs.crypto.ciphers import Algorithm
from host.hsm import PKCS11URI, FileKeyProvider, KeyProvider
from host.keystore import KeyFile, MasterKey
from host.testing.softhsm import USER_PIN, fresh_token

#: a provider holding the given keys: name -> (algorithm, value)
MakeProvider = Callable[[Mapping[str, tuple[Algorithm, bytes]]], KeyProvider]


@pytest.fixture
def token_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PKCS11URI:
    """An empty token of its own (the environment is restored after the test)."""
    monkeypatch.setenv("SOFTHSM2_CONF", "")
    monkeypatch.setenv("DUALCARD_PKCS11_MODULE", "")
    return fresh_token(tmp_path / "softhsm")


def _file_provider(keys: Mapping[str, tuple[Algorithm, bytes]]) -> KeyProvider:
    return FileKeyProvider(KeyFile("AES", {n: MasterKey(n, a, v) for n, (a, v) in keys.items()}))


@pytest.fixture(params=["file", "token"])
def make_provider(request: pytest.FixtureRequest) -> Iterator[MakeProvider]:
    """Each test runs once with the sealed-file provider and once with a fresh token."""
    opened: list[KeyProvider] = []

    def make(keys: Mapping[str, tuple[Algorithm, bytes]]) -> KeyProvider:
        if request.param == "file":
            return _file_provider(keys)
        from host.hsm.ceremony import import_key
        from host.hsm.token import TokenKeyProvider

        uri: PKCS11URI = request.getfixturevalue("token_uri")
        provider = TokenKeyProvider.open(uri, USER_PIN, rw=True)
        opened.append(provider)
        for name, (algorithm, value) in keys.items():
            import_key(provider, MasterKey(name, algorithm, value))
        return provider

    yield make
    for provider in opened:
        provider.close()
