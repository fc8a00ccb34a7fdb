"""Per-call cost of the crypto hot paths: median microseconds over several timed runs.

A key used again and again is measured as its owner keeps it: the owner's cipher
(``KeyCiphers``), or, in a tree from before owners kept ciphers, the raw key (a
module-level cache held the cipher then), so that ``bench/compare.py`` compares the same
operation on both.

Run: python bench/bench_crypto.py
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
from collections.abc import Callable

from apdu_specs.crypto import ciphers
from apdu_specs.crypto.ciphers import Algorithm, BlockCipher
from apdu_specs.crypto.mac import cmac, retail_mac
from apdu_specs.crypto.scp03 import CardHandshake, HostHandshake, StaticKeys

RUNS = 7
CALLS = 2_000


def median_us(func: Callable[[], object], runs: int = RUNS, calls: int = CALLS) -> float:
    """Median over ``runs`` of the mean time of one call, in microseconds."""
    func()  # warm up caches
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            func()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def kept(algorithm: Algorithm, key: bytes):  # type: ignore[no-untyped-def]
    """``key`` as an owner keeps it in this tree (see the module docstring)."""
    if not hasattr(ciphers, "KeyCiphers"):
        return key
    if algorithm is Algorithm.TDES and len(key) == 16:  # a retail MAC key: KA and KB
        return BlockCipher(Algorithm.DES, key[:8]), BlockCipher(Algorithm.DES, key[8:])
    return BlockCipher(algorithm, key)


def scp03_session_sl33():
    keys = StaticKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
    host = HostHandshake(keys, host_challenge=bytes(8))
    card = CardHandshake(
        keys, kdd=bytes(10), kvn=0x30, sequence_counter=1, sd_aid=bytes.fromhex("A000000151000000")
    )
    host.process_initialize_update_response(card.respond_initialize_update(bytes(8)))
    _apdu, session = host.external_authenticate(0x33)
    return session


def main() -> None:
    key = bytes(range(16))
    data32 = bytes(range(32))
    command = bytes.fromhex("80E20000") + bytes([64]) + bytes(range(64))
    session = scp03_session_sl33()
    aes_key, retail_key = kept(Algorithm.AES, key), kept(Algorithm.TDES, key)
    # a different key every call (an EMV session key): more keys than any cache would hold
    draw = random.Random(1).randbytes
    once = itertools.cycle([draw(16) for _ in range(CALLS)])
    rows = [
        ("AES-CMAC, 32 bytes, key kept by its owner", lambda: cmac(Algorithm.AES, aes_key, data32)),
        (
            "AES-CMAC, 32 bytes, fresh cipher",
            lambda: BlockCipher(Algorithm.AES, key).cmac(data32),
        ),
        ("retail MAC (ISO 9797-1 alg. 3), 32 bytes, key kept", lambda: retail_mac(retail_key, data32)),
        ("retail MAC (ISO 9797-1 alg. 3), 32 bytes, key used once",
         lambda: retail_mac(next(once), data32)),
        ("SCP03 wrap, 64-byte command, SL 33", lambda: session.wrap_command(command)),
    ]
    print(f"median of {RUNS} runs x {CALLS} calls")
    for name, func in rows:
        print(f"{name:<44} {median_us(func):8.2f} us/call")


if __name__ == "__main__":
    main()
