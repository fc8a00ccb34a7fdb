"""pytest fixtures for testing host code against a dual-chip card (registered by the plugin).

Which card: by default a simulated sample card (:mod:`.personalise`), personalised
once per session and forked for every test, so a test may do anything to its card.
``--dualcard-reader sim:IMAGE`` forks a card image instead; ``--dualcard-reader
pcsc:NAME`` points :func:`card_link`, :func:`chip1` and :func:`chip2` at a real card
in a real reader (tests that need the simulator — faults, internal state — are
skipped then).

- ``sample_card_data`` (session): :class:`~.personalise.SampleCard`, the card's data and keys;
- ``dualcard_template`` (session): the personalised simulated card (None for a real reader);
- ``sim_card``: a fork of the template (a ``SimulatedCard``);
- ``card_link``: :class:`~host.connect.CardLink`, transports to both chips;
- ``chip1`` / ``chip2``: the transport to one chip (GET RESPONSE handled);
- ``card_faults``: :class:`~.faults.CardFaults` on ``sim_card``;
- ``vpcd_card``: ``sim_card`` served through pcscd + vpcd (PC/SC transports);
- ``backoffice``: a :class:`~host.backoffice.BackOffice` in ``tmp_path``;
- ``fail_on_internal_errors``: ``watch(card)``, fail the test if the simulator hit a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from host.connect import CardLink, open_card
from host.transport.base import Transport
from host.transport.reader_uri import PCSCAddress, SimAddress, parse_reader_uri

from . import _simulator
from .faults import CardFaults

if TYPE_CHECKING:
    from host.backoffice import BackOffice
    from simulator.card import SimulatedCard

    from .personalise import SampleCard

__all__ = [
    "WATCHED_CARDS",
    "backoffice",
    "card_faults",
    "card_link",
    "chip1",
    "chip2",
    "dualcard_template",
    "fail_on_internal_errors",
    "sample_card_data",
    "sim_card",
    "simulated_link",
    "vpcd_card",
]

#: the simulated cards a test uses; the plugin fails the test if any recorded internal errors
WATCHED_CARDS = pytest.StashKey[list[Any]]()


def _reader(config: pytest.Config) -> str | None:
    value = config.getoption("--dualcard-reader", default=None)
    return str(value) if value else None


def simulated_link(card: SimulatedCard, name: str = "sim:fork") -> CardLink:
    """Connected in-process transports (GET RESPONSE handled) to both chips of ``card``."""
    from host.transport.sim import SimTransport
    from host.transport.t0 import T0Transport

    link = CardLink(name, simulated=card)
    for n in (1, 2):
        link.transports[n] = T0Transport(SimTransport(card.runtime(n), f"{name}#chip{n}"))
        link.transports[n].connect()
    return link


@pytest.fixture(scope="session")
def sample_card_data() -> SampleCard:
    """What the sample card carries: identity, PANs, PINs and the (test) issuer keys."""
    from .personalise import SAMPLE

    return SAMPLE


@pytest.fixture(scope="session")
def dualcard_template(pytestconfig: pytest.Config,
                      sample_card_data: SampleCard) -> SimulatedCard | None:
    """The personalised simulated card, built once per session (None for a real reader)."""
    reader = _reader(pytestconfig)
    address = parse_reader_uri(reader) if reader else SimAddress()
    if isinstance(address, PCSCAddress):
        return None
    if address.image is not None:
        return _simulator.load_card(address.image)
    from .personalise import sample_card

    return sample_card(sample_card_data)


@pytest.fixture
def fail_on_internal_errors(request: pytest.FixtureRequest) -> Callable[[Any], None]:
    """``watch(card)``: the test fails if ``card``'s chips record an internal error.

    An internal error is an exception inside card-side code that the runtime turned
    into 6F00: the host sees a status word, but the simulator has a bug. Tests that
    provoke one on purpose are marked ``@pytest.mark.allow_internal_errors``.
    """
    watched = request.node.stash.setdefault(WATCHED_CARDS, [])
    return watched.append


@pytest.fixture
def sim_card(dualcard_template: SimulatedCard | None,
             fail_on_internal_errors: Callable[[Any], None]) -> SimulatedCard:
    """A fork of the personalised card: this test's own simulated card, powered on."""
    if dualcard_template is None:
        pytest.skip("needs the simulator: --dualcard-reader points at a real reader")
    card = dualcard_template.fork()
    fail_on_internal_errors(card)
    return card


@pytest.fixture
def card_link(request: pytest.FixtureRequest,
              dualcard_template: SimulatedCard | None) -> Iterator[CardLink]:
    """Both chips of the card under test: the simulated fork, or the card in the real reader."""
    if dualcard_template is None:
        with open_card(_reader(request.config)) as link:
            yield link
        return
    link = simulated_link(request.getfixturevalue("sim_card"))
    try:
        yield link
    finally:
        link.close()


@pytest.fixture
def chip1(card_link: CardLink) -> Transport:
    """Chip 1 (payment) of the card under test."""
    return card_link.chip(1)


@pytest.fixture
def chip2(card_link: CardLink) -> Transport:
    """Chip 2 (points purse) of the card under test."""
    return card_link.chip(2)


@pytest.fixture
def card_faults(sim_card: SimulatedCard) -> CardFaults:
    """Fault injection on ``sim_card``: forced SWs, truncated answers, tears, removal."""
    return CardFaults(sim_card)


@pytest.fixture
def vpcd_card(sim_card: SimulatedCard) -> Iterator[CardLink]:
    """``sim_card`` in the virtual reader: any PC/SC program sees it while the test runs.

    Tests using it hold the machine-wide virtual reader lock, one at a time.
    """
    from .vpcd import served_on_vpcd

    with served_on_vpcd(sim_card) as link:
        yield link


@pytest.fixture
def backoffice(tmp_path: Path, sample_card_data: SampleCard) -> Iterator[BackOffice]:
    """An initialised alliance back office on SQLite in ``tmp_path``, knowing the card's keys."""
    from .backoffice import temporary_backoffice

    office = temporary_backoffice(tmp_path, sample_card_data)
    try:
        yield office
    finally:
        office.close()
