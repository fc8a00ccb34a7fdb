"""What a spec's declarations say about how it may be tested.

These read the spec's ``security`` text and status words, so a new spec is classified
without touching the suite:

- a *secure channel* command (security starts "secure channel") is rejected with 6982
  when sent plain, and its other cases run inside a session, when keys are given;
- an *issuer secure messaging* command (EMV issuer scripts) without its secure
  messaging class bits is rejected with 6987 (SM data objects missing) or 6982;
- a command that *counts tries* (declares 63Cx or a counted-MAC 9302) consumes a
  try when its example carries data, and content management under a secure channel
  changes the card: both are *destructive* and run only when allowed.

Some commands are refused in the state a fresh selection leaves (6985) whatever their
syntax; :data:`PREAMBLES` says what to send first so their cases test what they mean to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from apdu_specs.commands import get as get_spec
from apdu_specs.commands.spec import CommandSpec
from apdu_specs.hexutil import parse_hex

__all__ = ["PREAMBLES", "Preamble", "counts_tries", "issuer_secure_messaging",
           "preamble_commands", "preamble_for", "secure_channel"]

_TRY_COUNTER_SWS = frozenset({0x63C0, 0x9302})


def secure_channel(spec: CommandSpec) -> bool:
    return spec.security.strip().lower().startswith("secure channel")


def issuer_secure_messaging(spec: CommandSpec) -> bool:
    return spec.security.strip().lower().startswith("issuer secure messaging")


def counts_tries(spec: CommandSpec) -> bool:
    return bool(_TRY_COUNTER_SWS & set(spec.sws))


@dataclass(frozen=True)
class Preamble:
    """Commands that put an application in the state a spec's cases need.

    Each command is hex, or ``example:KEY`` for the first example of spec ``KEY``; all
    must answer 9000, or the cases are skipped (the card cannot be brought there).
    """

    title: str
    commands: tuple[str, ...]
    kinds: frozenset[str]


_SYNTAX = frozenset({"wrong length", "wrong P1/P2", "wrong CLA"})

#: (application the case runs on, spec key) → what to send first
PREAMBLES: Mapping[tuple[str, str], Preamble] = {
    # EXTERNAL AUTHENTICATE is refused (6985) unless INITIALIZE UPDATE came just before;
    # its examples stay without one: a wrong host cryptogram counts as a failed
    # authentication on the card
    ("gp", "gp:EXTERNAL AUTHENTICATE"): Preamble(
        "INITIALIZE UPDATE, first key set", ("8050000008" "0102030405060708" "00",), _SYNTAX),
    # a payment application takes VERIFY only inside a transaction (EMV Book 3 §10.5)
    ("payment", "iso7816:VERIFY"): Preamble(
        "GET PROCESSING OPTIONS", ("example:payment:GET PROCESSING OPTIONS",),
        frozenset({"example", *_SYNTAX})),
}


def preamble_for(application: str, spec: CommandSpec | None, kind: str) -> Preamble | None:
    if spec is None:
        return None
    preamble = PREAMBLES.get((application, spec.key))
    return preamble if preamble is not None and kind in preamble.kinds else None


def preamble_commands(preamble: Preamble) -> list[bytes]:
    """The preamble's commands as bytes (``example:KEY`` resolved in the registry)."""
    out = []
    for item in preamble.commands:
        if item.startswith("example:"):
            spec = get_spec(item.removeprefix("example:"))
            out.append(spec.example_apdus()[0].encode())
        else:
            out.append(parse_hex(item))
    return out
