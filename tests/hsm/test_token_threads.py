"""Several handler threads computing in one token at once, as the service host does.

python-pkcs11 initialises the module with ``C_Initialize(NULL)`` (SoftHSM2 then runs without
its own mutexes) and releases the GIL during each call: two providers of one module with a
lock each were seen answering ``CKR_GENERAL_ERROR`` and corrupting the heap. Every provider
of a module shares one lock; this checks that many threads over several sessions get every
cryptogram right."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from apdu_specs.crypto.ciphers import Algorithm
from host.hsm import PKCS11URI, FileKeyProvider
from host.hsm.schemes import application_cryptogram
from host.keystore import KeyFile, MasterKey
from host.testing.softhsm import USER_PIN

MASTER = bytes(range(16))
PAN = "6200000000000005"


def test_threads_over_several_sessions_of_one_module_get_every_cryptogram_right(
        token_uri: PKCS11URI) -> None:
    from host.hsm.ceremony import import_key
    from host.hsm.token import TokenKeyProvider, module_lock, module_path

    reference = FileKeyProvider(KeyFile("AES", {"emv_ac": MasterKey("emv_ac", Algorithm.AES,
                                                                    MASTER)}))
    expected = {atc: application_cryptogram(reference, reference.key("emv_ac"), PAN, "00", atc,
                                            bytes(40)) for atc in range(1, 61)}
    with TokenKeyProvider.open(token_uri, USER_PIN, rw=True) as token:
        import_key(token, MasterKey("emv_ac", Algorithm.AES, MASTER))
    providers = [TokenKeyProvider.open(token_uri, USER_PIN) for _ in range(3)]
    assert {id(p._lock) for p in providers} == {id(module_lock(module_path(token_uri)))}

    def work(n: int) -> dict[int, bytes]:
        provider = providers[n % len(providers)]
        key = provider.key("emv_ac")
        return {atc: application_cryptogram(provider, key, PAN, "00", atc, bytes(40))
                for atc in expected}

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(work, range(12)))
    finally:
        for provider in providers:
            provider.close()
    assert all(result == expected for result in results)
