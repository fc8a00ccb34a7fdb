"""Every PIN check writes the decremented try counter first: tearing never tells a PIN.

An attacker who watches the card can cut power the moment it starts its first write
(tear point 0) or right after it (tear point 1). If a right and a wrong PIN led to a
different first write, or if one of them wrote nothing, the cut would tell the two
apart while the try counter stayed where it was: a free guess. So for each PIN-checking
command, a right and a wrong PIN torn at points 0 and 1 must look the same — the card
goes mute both times, and after power-up nothing has changed (point 0) or exactly the
try counter is one lower (point 1).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import cardlib.security_domain  # noqa: F401  (registers its load file: no VERIFY there)
from cardlib.payment import PaymentApplication
from cardlib.purse import PointsPurseApplet
from cardlib.registry import all_load_files
from host.payment.client import PaymentClient
from host.points import PointsClient, WrongPINError
from host.transport.base import TransportError
from simulator.card import SimulatedCard
from tests.payment.cards import DEBIT, chip1, personalised_card
from tests.purse.purse_helpers import connect, make_card

INS_VERIFY = 0x20
RIGHT, WRONG = "1234", "9999"


@dataclass(frozen=True)
class PinCommand:
    """A command that checks a PIN, on the card and in the state it needs."""

    applet: type
    chip: int
    card: Callable[[], SimulatedCard]  #: a personalised card, powered
    prepare: Callable[[SimulatedCard], Any]  #: select (and what else VERIFY needs): a client
    verify: Callable[[Any, str], object]  #: send the PIN


def _payment_session(card: SimulatedCard) -> PaymentClient:
    client = PaymentClient(chip1(card))
    client.select_application(DEBIT.application_aid)
    client.get_processing_options(bytes(4))  # VERIFY comes after GET PROCESSING OPTIONS
    return client


def _purse_session(card: SimulatedCard) -> PointsClient:
    client = connect(card)
    client.select()
    return client


def _purse_verify(client: PointsClient, pin: str) -> None:
    with contextlib.suppress(WrongPINError):  # a wrong PIN is an outcome here, not a failure
        client.verify_pin(pin)


COMMANDS = {
    "chip1 payment VERIFY": PinCommand(
        PaymentApplication, 1, lambda: personalised_card(DEBIT), _payment_session,
        lambda client, pin: client.verify_pin(pin)),
    "chip2 purse VERIFY": PinCommand(
        PointsPurseApplet, 2, lambda: make_card(pin=RIGHT), _purse_session, _purse_verify),
}


@pytest.fixture(scope="module", params=list(COMMANDS))
def command(request: pytest.FixtureRequest) -> tuple[PinCommand, SimulatedCard]:
    spec = COMMANDS[request.param]
    return spec, spec.card()


def _committed(card: SimulatedCard, chip: int) -> dict[str, Any]:
    return card.runtime(chip).chip.memory.snapshot()


def _torn_verify(spec: PinCommand, personalised: SimulatedCard, pin: str, point: int,
                 tries_used: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """VERIFY ``pin`` torn at ``point`` after ``tries_used`` wrong PINs: (before, after)."""
    card = personalised.fork()
    client = spec.prepare(card)
    for _ in range(tries_used):
        spec.verify(client, WRONG)
    before = _committed(card, spec.chip)
    card.tear(spec.chip, point)
    with pytest.raises(TransportError):  # the card went mute: the tear point was reached
        spec.verify(client, pin)
    card.runtime(spec.chip).chip.memory.disarm_tear()
    card.runtime(spec.chip).power_on()
    return before, _committed(card, spec.chip)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: after.get(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k)}


@pytest.mark.parametrize("tries_used", [0, 1])
@pytest.mark.parametrize("pin", [RIGHT, WRONG])
def test_torn_before_the_first_write_nothing_happened(command, pin: str, tries_used: int) -> None:
    spec, card = command
    before, after = _torn_verify(spec, card, pin, 0, tries_used)
    assert after == before


@pytest.mark.parametrize("tries_used", [0, 1])
@pytest.mark.parametrize("pin", [RIGHT, WRONG])
def test_the_first_write_is_the_decremented_try_counter(command, pin: str,
                                                        tries_used: int) -> None:
    spec, card = command
    before, after = _torn_verify(spec, card, pin, 1, tries_used)
    changes = _changes(before, after)
    [key] = changes  # one key changed, and it is the try counter, one lower
    assert key.endswith("/pin.tries")
    assert changes[key] == before[key] - 1


def test_every_verify_handler_is_checked_here() -> None:
    """A new applet answering VERIFY must join ``COMMANDS``."""
    verifying = {cls for lf in all_load_files() for cls in lf.modules.values()
                 if INS_VERIFY in cls._dispatch and cls.__module__.startswith("cardlib.")}
    assert verifying == {spec.applet for spec in COMMANDS.values()}
