"""Per-call cost of the crypto hot paths: median microseconds over several timed runs.

Run: python bench/bench_crypto.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

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
    rows = [
        ("AES-CMAC, 32 bytes, cached cipher", lambda: cmac(Algorithm.AES, key, data32)),
        (
            "AES-CMAC, 32 bytes, fresh cipher",
            lambda: BlockCipher(Algorithm.AES, key).cmac(data32),
        ),
        ("retail MAC (ISO 9797-1 alg. 3), 32 bytes", lambda: retail_mac(key, data32)),
        ("SCP03 wrap, 64-byte command, SL 33", lambda: session.wrap_command(command)),
    ]
    print(f"median of {RUNS} runs x {CALLS} calls")
    for name, func in rows:
        print(f"{name:<44} {median_us(func):8.2f} us/call")


if __name__ == "__main__":
    main()
