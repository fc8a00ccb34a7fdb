"""End to end through the real stack: bridge -> vpcd -> pcscd -> pyscard / opensc-tool."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from host.testing.pcscd import PCSCStack, skip_or_fail, virtual_reader, wait_for_card
from host.transport.pcsc import PCSCTransport, list_pcsc_readers
from host.transport.t0 import T0Transport
from simulator.vpcd.bridge import VPCDBridge
from simulator.vpcd.toy_chip import TOY_FILE, TOY_OBJECT, ToyChip, toy_atr

pytestmark = [pytest.mark.vpcd, pytest.mark.timeout(120)]

SLOT0, SLOT1 = "Virtual PCD 00 00", "Virtual PCD 00 01"
ATR0, ATR1 = toy_atr(0), toy_atr(1)
SELECT = bytes.fromhex("00A4040007F0000000010001")


@pytest.fixture(scope="module")
def stack() -> Iterator[PCSCStack]:
    with virtual_reader() as stack:
        yield stack


@pytest.fixture(scope="module")
def chips(stack: PCSCStack) -> Iterator[tuple[ToyChip, ToyChip]]:
    pair = (ToyChip(atr=ATR0), ToyChip(atr=ATR1))
    bridges = [VPCDBridge(chip, slot=slot) for slot, chip in enumerate(pair)]
    for bridge in bridges:
        bridge.start()
    try:
        for reader, chip in zip(stack.readers, pair):
            wait_for_card(reader, atr=chip.atr)
        yield pair
    finally:
        for bridge in bridges:
            bridge.stop()


@pytest.fixture
def slot0(chips: tuple[ToyChip, ToyChip]) -> Iterator[PCSCTransport]:
    with PCSCTransport(SLOT0) as transport:
        yield transport


def test_both_virtual_slots_are_listed(stack: PCSCStack) -> None:
    readers = list_pcsc_readers()
    assert SLOT0 in readers and SLOT1 in readers


def test_each_slot_presents_its_own_chip(chips: tuple[ToyChip, ToyChip]) -> None:
    with PCSCTransport(SLOT0) as first, PCSCTransport(SLOT1) as second:
        assert (first.atr, second.atr) == (ATR0, ATR1)
        assert first.protocol == "T=1"  # vpcd always reports T=1
        assert first.transmit(SELECT) == b"\x90\x00"
        assert second.transmit(SELECT) == b"\x90\x00"


def test_dual_chip_address_reaches_chip_2_on_slot_01(chips: tuple[ToyChip, ToyChip]) -> None:
    with PCSCTransport.from_selector("Virtual PCD", chip=2) as transport:
        assert transport.reader == SLOT1 and transport.atr == ATR1


def test_pcscd_leaves_61xx_to_the_host(slot0: PCSCTransport) -> None:
    assert slot0.transmit(bytes.fromhex("00B0000000")) == b"\x61\x00"
    assert T0Transport(slot0).transmit(bytes.fromhex("00B0000000")) == TOY_FILE + b"\x90\x00"


def test_wrong_le_is_fixed_by_the_t0_wrapper(slot0: PCSCTransport) -> None:
    assert slot0.transmit(bytes.fromhex("00CA000000")) == b"\x6c\x08"
    assert T0Transport(slot0).transmit(bytes.fromhex("00CA000000")) == TOY_OBJECT + b"\x90\x00"


def test_reset_and_reconnect(chips: tuple[ToyChip, ToyChip]) -> None:
    chip = chips[0]
    transport = PCSCTransport(SLOT0)
    transport.connect()
    resets = chip.resets
    assert transport.reset() == ATR0
    assert chip.resets == resets + 1
    transport.disconnect()
    transport.connect()
    assert transport.transmit(SELECT) == b"\x90\x00"
    transport.disconnect()


def test_opensc_tool_sees_the_card(chips: tuple[ToyChip, ToyChip]) -> None:
    tool = shutil.which("opensc-tool")
    if tool is None:
        skip_or_fail("opensc-tool is not installed (apt-get install opensc)")
    result = subprocess.run([tool, "-r", SLOT0, "-s", "00A4040000"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "SW1=0x90, SW2=0x00" in result.stdout
