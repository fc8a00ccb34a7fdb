"""PUT KEY and INSTALL torn at every persistent write: after power-up the card is whole."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from apdu_specs.crypto.keyset import StaticKeys
from host.gp import AuthenticationError, GPClient, KeySpec, MasterKeys, apdus
from simulator.card import SimulatedCard
from simulator.errors import CardMute

from .gp_helpers import blank, client, sw_of
from .perso_applet import PERSO_AID, PERSO_LOAD_FILE, PERSO_MODULE

NEW = StaticKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))
NEW_SPEC = KeySpec(MasterKeys(NEW.enc, NEW.mac, NEW.dek), source="new")


def tear_everywhere(command: Callable[[GPClient], bytes],
                    check: Callable[[SimulatedCard, bool], None]) -> int:
    """Run ``command`` on a fresh card torn before its first write, then after write 1, 2, …;
    ``check`` each outcome.

    Returns how many writes the command makes (the first n that does not tear).
    """
    factory = blank("tear")
    for n in count(0):
        card = factory.fork()
        gp = client(card)
        wrapped = gp.channel.wrap(command(gp))
        card.tear(1, n)
        try:
            answer = card.chip1.transmit(wrapped)
        except CardMute:
            torn = True
        else:
            torn = False
            assert sw_of(answer) == 0x9000
        card.chip1.chip.memory.disarm_tear()
        card.power_on()
        check(card, torn)
        if not torn:
            return max(n - 1, 0)


def test_gp_put_key_torn_at_every_write() -> None:
    outcomes: list[bool] = []

    def check(card: SimulatedCard, torn: bool) -> None:
        versions = {k.kvn for k in client(card, keys=None).key_information()}
        assert versions in ({0xFF}, {0x30})
        if versions == {0xFF}:
            client(card)  # the old keys still open the card
        else:
            try:
                client(card)
            except AuthenticationError:
                pass
            else:
                raise AssertionError("the retired test keys still work")
            gp = client(card, keys=None)
            gp.open_secure_channel(NEW_SPEC)
        outcomes.append(versions == {0x30})
        assert not torn or card.chip1.internal_errors == []

    writes = tear_everywhere(
        lambda gp: apdus.put_key(NEW, 0x30, component=gp.channel.key_component).encode(), check)
    assert writes >= 3
    assert outcomes[0] is False and outcomes[-1] is True  # lost early, kept once committed


def test_gp_install_torn_at_every_write() -> None:
    outcomes: list[bool] = []

    def check(card: SimulatedCard, torn: bool) -> None:
        content = card.chip1.chip.content
        stored = card.chip1.chip.memory.snapshot()
        app_keys = [k for k in stored if k.startswith("app/" + PERSO_AID.hex().upper())]
        installed = content.record(PERSO_AID) is not None
        if installed:  # record, instance memory and sequence number together
            assert stored["card/install_seq"] == 2
            assert content.instance(PERSO_AID).store.get("params") == b"\x07"
        else:
            assert app_keys == [] and stored["card/install_seq"] == 1
        outcomes.append(installed)
        gp = client(card)  # the ISD is intact either way
        gp.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID + b"\x01")

    writes = tear_everywhere(
        lambda gp: apdus.install(PERSO_LOAD_FILE, PERSO_MODULE, PERSO_AID, params=b"\x07").encode(),
        check)
    assert writes >= 3
    assert outcomes[0] is False and outcomes[-1] is True
