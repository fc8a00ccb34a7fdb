"""Command APDU case detection for traces and Le rewriting (domain-facts §1.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.transport._apdu_shape import split_command, with_le

pytestmark = pytest.mark.unit

HDR = bytes.fromhex("00A40400")


@pytest.mark.parametrize(
    ("hex_apdu", "lc", "data", "le", "extended", "ne"),
    [
        ("00A40400", "", "", "", False, None),                         # case 1
        ("00B0000000", "", "", "00", False, 256),                      # case 2S, Le 00 = 256
        ("00A4040002AABB", "02", "AABB", "", False, None),             # case 3S
        ("00A4040002AABB10", "02", "AABB", "10", False, 16),           # case 4S
        ("00B00000000000", "", "", "0000", True, 65536),               # case 2E
        ("00A40400000002AABB", "000002", "AABB", "", True, None),      # case 3E
        ("00A40400000002AABB0100", "000002", "AABB", "0100", True, 256),  # case 4E
    ],
)
def test_cases(hex_apdu: str, lc: str, data: str, le: str, extended: bool, ne: int | None) -> None:
    shape = split_command(bytes.fromhex(hex_apdu))
    assert shape.well_formed
    assert (shape.lc.hex().upper(), shape.data.hex().upper(), shape.le.hex().upper()) == (
        lc, data, le)
    assert (shape.extended, shape.ne) == (extended, ne)


@pytest.mark.parametrize("hex_apdu", ["", "00", "00A404", "00A4040003AA", "00A4040000AA",
                                      "00A40400000005AA"])
def test_malformed_commands_are_flagged_not_raised(hex_apdu: str) -> None:
    assert not split_command(bytes.fromhex(hex_apdu)).well_formed


short_data = st.binary(min_size=1, max_size=255)


@settings(max_examples=150)
@given(data=st.one_of(st.just(b""), short_data), ne=st.integers(1, 65536),
       has_le=st.booleans())
def test_with_le_sets_ne_and_keeps_the_data(data: bytes, ne: int, has_le: bool) -> None:
    apdu = HDR + (bytes((len(data),)) + data if data else b"") + (b"\x10" if has_le else b"")
    rewritten = split_command(with_le(apdu, ne))
    assert rewritten.well_formed
    assert (rewritten.header, rewritten.data, rewritten.ne) == (HDR, data, ne)
    assert rewritten.extended == (ne > 256)


def test_with_le_keeps_extended_form() -> None:
    assert with_le(bytes.fromhex("00A40400000002AABB0000"), 16) == bytes.fromhex(
        "00A40400000002AABB0010")
    assert with_le(bytes.fromhex("00B00000000000"), 8) == bytes.fromhex("00B00000000008")


@pytest.mark.parametrize("ne", [0, 65537])
def test_with_le_rejects_out_of_range_ne(ne: int) -> None:
    with pytest.raises(ValueError, match="Ne must be"):
        with_le(HDR, ne)


def test_with_le_rejects_malformed_commands() -> None:
    with pytest.raises(ValueError, match="malformed"):
        with_le(bytes.fromhex("00A4040003AA"), 4)
