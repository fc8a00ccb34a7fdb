"""The toy chip used to exercise the transport stack behaves like a T=0-style card."""

from __future__ import annotations

import pytest

from simulator.chip_protocol import ChipLike
from simulator.vpcd.toy_chip import TOY_ATR, TOY_FILE, ToyChip, toy_atr

pytestmark = pytest.mark.unit


def test_is_chip_like_and_atr_is_well_formed() -> None:
    chip = ToyChip()
    assert isinstance(chip, ChipLike)
    assert TOY_ATR[:4] == bytes.fromhex("3B888001") and TOY_ATR[4:11] == b"TOYCHIP"
    check = 0
    for byte in TOY_ATR[1:]:  # ISO/IEC 7816-3: XOR from T0 through TCK is zero
        check ^= byte
    assert check == 0
    assert toy_atr(1) != toy_atr(2)


@pytest.mark.parametrize(
    ("apdu", "response"),
    [("00A4040007F0000000010001", "9000"), ("00A4000C023F00", "9000"),
     ("00B0000000", "6100"), ("00B000F010", "6110"), ("00B000F020", "6C10"),
     ("00B0010000", "6B00"), ("00C0000000", "6985"), ("00CA000000", "6C08"),
     ("00CA000008", "01020304050607089000"), ("00DD0000", "6D00"), ("FFA40400", "6E00"),
     ("00A4", "6700")],
)
def test_answers(apdu: str, response: str) -> None:
    assert ToyChip().transmit(bytes.fromhex(apdu)).hex().upper() == response


def test_get_response_hands_out_pending_data_in_pieces() -> None:
    chip = ToyChip()
    chip.transmit(bytes.fromhex("00B0000000"))
    first = chip.transmit(bytes.fromhex("00C0000080"))
    assert first == TOY_FILE[:128] + b"\x61\x80"
    assert chip.transmit(bytes.fromhex("00C0000080")) == TOY_FILE[128:] + b"\x90\x00"


def test_without_chaining_data_comes_directly() -> None:
    chip = ToyChip(response_chaining=False)
    assert chip.transmit(bytes.fromhex("00B0000000")) == TOY_FILE + b"\x90\x00"


def test_power_and_reset_drop_pending_data() -> None:
    chip = ToyChip()
    assert chip.power_on() == TOY_ATR and chip.powered
    chip.transmit(bytes.fromhex("00B0000000"))
    assert chip.reset() == TOY_ATR
    assert chip.transmit(bytes.fromhex("00C0000000")) == b"\x69\x85"
    chip.power_off()
    assert not chip.powered
