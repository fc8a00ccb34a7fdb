"""Every MAC and cryptogram check counts first: tearing never buys a free guess.

What ``test_pin_tearing.py`` proves for PIN try counters, here for the purse's MAC guard
(CREDIT FOR LOAD's MAC2, DEBIT FOR PURCHASE's MAC1) and the security domain's
authentication-failure counter (EXTERNAL AUTHENTICATE's host cryptogram, SCP03 and
SCP02). If a genuine and a wrong value led to a different first write, a cut as that
write starts (tear point 0) would tell them apart with nothing counted. So each check,
genuine or wrong, with no failure or one failure already counted, torn at point 0 leaves
the card mute and nothing stored; torn at point 1, the one change is the failure counter,
one higher; and a genuine check afterwards sets it back to zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from apdu_specs.commands.purse_data import Purse
from apdu_specs.crypto.scp02 import SCP02HostHandshake
from apdu_specs.crypto.scp03 import HostHandshake
from apdu_specs.sw import CardError
from cardlib.security_domain import factory_keys
from host.transport.base import TransportError
from simulator.card import SimulatedCard
from tests.gp.gp_helpers import blank, client, sw_of
from tests.purse.purse_helpers import WHEN, actors, connect, make_card

PURSE = Purse.BANK
C_MAC = 0x01

#: one exchange that completes a check: it answers the card's status word
Exchange = Callable[[], int]


@dataclass(frozen=True)
class CountedCheck:
    """A command that checks a MAC or cryptogram against a failure counter."""

    chip: int
    card: Callable[[], SimulatedCard]  #: a personalised card, powered
    counter: str  #: how the failure counter's memory key ends
    refused: int  #: the status word of a wrong value
    #: every command the check needs before it; the completing exchange, genuine or not
    attempt: Callable[[SimulatedCard, bool], Exchange]


def _flipped(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 0x01])


def _purse_sw(send: Callable[[], object]) -> Exchange:
    def exchange() -> int:
        try:
            send()
        except CardError as exc:
            return exc.sw
        return 0x9000
    return exchange


def _purse_card() -> SimulatedCard:
    card = make_card()
    issuer, sam = actors()
    connect(card).load(PURSE, 500, issuer, terminal_id=sam.terminal_id, when=WHEN)
    card.chip2.power_on()
    return card


def _load(card: SimulatedCard, genuine: bool) -> Exchange:
    purse, (issuer, sam) = connect(card), actors()
    purse.select()
    auth = issuer.authorize(purse.card_identity,
                            purse.initialize_for_load(PURSE, 10, sam.terminal_id), WHEN)
    mac2 = auth.mac2 if genuine else _flipped(auth.mac2)
    return _purse_sw(lambda: purse.credit_for_load(auth.time_bytes, mac2))


def _purchase(card: SimulatedCard, genuine: bool) -> Exchange:
    purse, (_, sam) = connect(card), actors()
    purse.select()
    auth = sam.authorize_purchase(purse.card_identity,
                                  purse.initialize_for_purchase(PURSE, 5, sam.terminal_id), WHEN)
    mac1 = auth.mac1 if genuine else _flipped(auth.mac1)
    return _purse_sw(lambda: purse.debit_for_purchase(auth.terminal_seq, auth.time_bytes, mac1))


def _external_authenticate(suite: str) -> Callable[[SimulatedCard, bool], Exchange]:
    handshake = SCP02HostHandshake if suite == "3DES" else HostHandshake

    def attempt(card: SimulatedCard, genuine: bool) -> Exchange:
        gp = client(card, keys=None)
        host = handshake(factory_keys(suite), host_challenge=bytes(8))
        host.process_initialize_update_response(
            gp.transport.transmit(host.initialize_update_command())[:-2])
        if not genuine:  # the cryptogram of another challenge, under the right keys and C-MAC
            host.host_challenge = b"\xff" * 8
        apdu, _ = host.external_authenticate(C_MAC)
        return lambda: sw_of(gp.transport.transmit(apdu))
    return attempt


CHECKS = {
    "purse CREDIT FOR LOAD MAC2": CountedCheck(2, _purse_card, "/mac/failures", 0x9302, _load),
    "purse DEBIT FOR PURCHASE MAC1": CountedCheck(2, _purse_card, "/mac/failures", 0x9302,
                                                  _purchase),
    "ISD EXTERNAL AUTHENTICATE SCP03": CountedCheck(1, lambda: blank(), "/authfail/FF", 0x6300,
                                                    _external_authenticate("AES")),
    "ISD EXTERNAL AUTHENTICATE SCP02": CountedCheck(1, lambda: blank(suite="3DES"),
                                                    "/authfail/FF", 0x6300,
                                                    _external_authenticate("3DES")),
}


@pytest.fixture(scope="module", params=list(CHECKS))
def check(request: pytest.FixtureRequest) -> tuple[CountedCheck, SimulatedCard]:
    spec = CHECKS[request.param]
    return spec, spec.card()


def _committed(card: SimulatedCard, chip: int) -> dict[str, Any]:
    return card.runtime(chip).chip.memory.snapshot()


def _count(spec: CountedCheck, card: SimulatedCard) -> int:
    stored = _committed(card, spec.chip)
    return sum(int(v) for k, v in stored.items() if k.endswith(spec.counter))


def _complete(spec: CountedCheck, card: SimulatedCard, genuine: bool) -> None:
    assert spec.attempt(card, genuine)() == (0x9000 if genuine else spec.refused)


def _torn(spec: CountedCheck, personalised: SimulatedCard, genuine: bool, point: int,
          failures: int) -> tuple[SimulatedCard, dict[str, Any], dict[str, Any]]:
    """The check torn at ``point`` after ``failures`` wrong values: the card, powered up
    again, and its committed memory before and after."""
    card = personalised.fork()
    for _ in range(failures):
        _complete(spec, card, genuine=False)
    exchange = spec.attempt(card, genuine)
    before = _committed(card, spec.chip)
    assert _count(spec, card) == failures
    card.tear(spec.chip, point)
    with pytest.raises(TransportError):  # the card went mute: the tear point was reached
        exchange()
    card.runtime(spec.chip).chip.memory.disarm_tear()
    card.runtime(spec.chip).power_on()
    return card, before, _committed(card, spec.chip)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: after.get(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@pytest.mark.parametrize("failures", [0, 1])
@pytest.mark.parametrize("genuine", [True, False], ids=["genuine", "wrong"])
def test_torn_before_the_first_write_nothing_happened(check, genuine: bool,
                                                      failures: int) -> None:
    spec, card = check
    _, before, after = _torn(spec, card, genuine, 0, failures)
    assert after == before


@pytest.mark.parametrize("failures", [0, 1])
@pytest.mark.parametrize("genuine", [True, False], ids=["genuine", "wrong"])
def test_the_first_write_is_the_counted_failure(check, genuine: bool, failures: int) -> None:
    spec, card = check
    _, before, after = _torn(spec, card, genuine, 1, failures)
    changes = _changes(before, after)
    [key] = changes  # one key changed, and it is the failure counter, one higher
    assert key.endswith(spec.counter)
    assert changes[key] == before.get(key, 0) + 1 == failures + 1


@pytest.mark.parametrize("failures", [0, 1])
@pytest.mark.parametrize("genuine", [True, False], ids=["genuine", "wrong"])
def test_a_genuine_check_after_the_tear_resets_the_count(check, genuine: bool,
                                                         failures: int) -> None:
    spec, card = check
    torn, _, _ = _torn(spec, card, genuine, 1, failures)
    _complete(spec, torn, genuine=True)
    assert _count(spec, torn) == 0
