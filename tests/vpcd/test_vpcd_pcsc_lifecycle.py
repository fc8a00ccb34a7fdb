"""Card removal and pcscd restarts as seen through the real pcscd + vpcd stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from host.testing.pcscd import PCSCD_PID, PCSCStack, virtual_reader, wait_for_card, wait_for_removal
from host.transport.base import NoCardError, TransportFailure
from host.transport.pcsc import PCSCTransport
from simulator.errors import CardMute
from simulator.vpcd.bridge import VPCDBridge
from simulator.vpcd.toy_chip import ToyChip, toy_atr

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(120)]

SLOT1 = "Virtual PCD 00 01"
SELECT = bytes.fromhex("00A4040007F0000000010001")


@pytest.fixture(scope="module")
def stack() -> Iterator[PCSCStack]:
    with virtual_reader() as stack:
        yield stack


def test_removing_the_card_is_reported(stack: PCSCStack) -> None:
    chip = ToyChip(atr=toy_atr(0x11))
    with VPCDBridge(chip, slot=1):
        wait_for_card(SLOT1, atr=chip.atr)
        transport = PCSCTransport(SLOT1)
        transport.connect()
        assert transport.transmit(SELECT) == b"\x90\x00"
    try:
        with pytest.raises(TransportFailure):  # vpcd fails the exchange and ejects the card
            transport.transmit(SELECT)
    finally:
        transport.disconnect()
    wait_for_removal(SLOT1)  # pcscd's next presence poll sees the empty slot
    with pytest.raises(NoCardError):
        PCSCTransport(SLOT1).connect()


class _MuteOnEE(ToyChip):
    """Goes mute (as a torn or unpowered chip does) when it receives INS EE."""

    def transmit(self, apdu: bytes) -> bytes:
        if apdu[1] == 0xEE:
            self.power_off()
            raise CardMute("power lost")
        return super().transmit(apdu)


def test_a_mute_chip_is_removed_then_reinserted_and_powered_again(stack: PCSCStack) -> None:
    chip = _MuteOnEE(atr=toy_atr(0x13))
    with VPCDBridge(chip, slot=1):
        wait_for_card(SLOT1, atr=chip.atr)
        with PCSCTransport(SLOT1) as transport, pytest.raises(TransportFailure):
            transport.transmit(bytes.fromhex("00EE0000"))
        power_ups = chip.power_ups
        wait_for_removal(SLOT1)  # pcscd sees the slot empty...
        wait_for_card(SLOT1, atr=chip.atr)  # ...then the card again
        assert chip.power_ups > power_ups  # pcscd saw a fresh insertion and powered it
        with PCSCTransport(SLOT1) as transport:
            assert transport.transmit(SELECT) == b"\x90\x00"
    wait_for_removal(SLOT1)


def test_bridge_survives_a_pcscd_restart(stack: PCSCStack) -> None:
    if not stack.owned:
        pytest.skip("pcscd was not started by dualcard (no matching pid in "
                    f"{PCSCD_PID}); only a pcscd dualcard started is restarted")
    chip = ToyChip(atr=toy_atr(0x12))
    with VPCDBridge(chip, slot=1, retry_max=0.2) as bridge:
        wait_for_card(SLOT1, atr=chip.atr)
        before = bridge.connections
        stack.restart()
        wait_for_card(SLOT1, atr=chip.atr)
        with PCSCTransport(SLOT1) as transport:
            assert transport.transmit(SELECT) == b"\x90\x00"
        assert bridge.connections > before
