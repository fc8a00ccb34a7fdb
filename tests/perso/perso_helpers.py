"""Shared pieces of the personalisation tests: the sample profile, keys, blank cards."""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import cardlib.payment
import cardlib.purse
import cardlib.security_domain  # noqa: F401  (registers the ISD load file, for images)
from host.keystore import KeyFile, new_key_file
from host.perso import (
    CardNumbers,
    HolderRecord,
    NumberStore,
    Personaliser,
    PINMailer,
    Profile,
    load_profile,
    read_holders,
)
from host.transport.sim import blank_card, sim_transports
from host.transport.t0 import T0Transport
from simulator.card import SimulatedCard

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "perso"
PROFILE = EXAMPLES / "profile.toml"
HOLDERS = EXAMPLES / "holders.csv"
TODAY = _dt.date(2025, 1, 15)


def counter_random(seed: str) -> Callable[[int], bytes]:
    """Deterministic 'randomness' so key files are the same in every run."""
    state = {"n": 0}

    def random(length: int) -> bytes:
        state["n"] += 1
        return hashlib.sha256(f"{seed}/{state['n']}".encode()).digest()[:length]

    return random


def sample_keys(suite: str = "AES", seed: str = "perso-tests") -> KeyFile:
    return new_key_file(suite, random=counter_random(seed))


def personaliser(tmp_path: Path | None, keys: KeyFile | None = None) -> Personaliser:
    """The sample profile's personaliser; PINs go to ``tmp_path/pins.csv`` and card numbers
    come from ``tmp_path/numbers.sqlite3`` (none: no mailer, numbers from a store in memory)."""
    mailer = PINMailer(tmp_path / "pins.csv") if tmp_path is not None else None
    store = NumberStore(tmp_path / "numbers.sqlite3" if tmp_path is not None else "sqlite://")
    return Personaliser(load_profile(PROFILE), keys or sample_keys(), mailer=mailer,
                        numbers=store, today=lambda: TODAY)


def numbered(profile: Profile, holders: list[HolderRecord]) -> dict[int, CardNumbers]:
    """The holders' card numbers from a fresh number store (in memory)."""
    with NumberStore("sqlite://") as store:
        return store.allocate(profile, holders, "batch:tests")


def connect(card: SimulatedCard) -> dict[int, T0Transport]:
    """T=0-wrapped, connected transports to both chips of a simulated card."""
    transports = {n: T0Transport(t) for n, t in enumerate(sim_transports(card), start=1)}
    for transport in transports.values():
        transport.connect()
    return transports


def fresh_card(identity: str = "8860000000000001") -> SimulatedCard:
    return blank_card(identity)


def sample_holders() -> list[HolderRecord]:
    return read_holders(HOLDERS)
