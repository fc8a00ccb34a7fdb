"""The Hypothesis strategies generate what they promise."""

from __future__ import annotations

import pytest
from hypothesis import find, given, settings

from apdu_specs.apdu import CommandAPDU
from apdu_specs.commands import all_specs, get
from apdu_specs.crypto.luhn import is_valid
from apdu_specs.errors import APDUFormatError
from apdu_specs.tlv import parse_tlvs
from host.testing.strategies import (
    aids,
    amounts,
    command_apdus,
    malformed_apdus,
    pans,
    status_words,
    tlv_trees,
)

pytestmark = pytest.mark.unit

SPECS = [s for s in all_specs() if s.examples]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.key)
def test_command_apdus_are_accepted_by_their_spec(spec) -> None:
    @settings(max_examples=8, deadline=None)
    @given(command_apdus(spec))
    def check(apdu: CommandAPDU) -> None:
        spec.parse(apdu)
        assert CommandAPDU.parse(apdu.encode()) == apdu.replace(extended=apdu.is_extended)

    check()


def test_command_apdus_vary_the_fields_and_keep_their_shape() -> None:
    spec = get("purse:INITIALIZE FOR LOAD")
    seen: set[bytes] = set()

    @settings(max_examples=30, deadline=None)
    @given(command_apdus(spec))
    def check(apdu: CommandAPDU) -> None:
        assert len(apdu.data) == 11 and apdu.p2 in (1, 2, 3)
        seen.add(apdu.data)

    check()
    assert len(seen) > 1


def test_a_spec_without_examples_is_refused() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="no examples"):
        command_apdus(replace(get("purse:GET BALANCE"), examples=()))


@settings(max_examples=300)
@given(malformed_apdus())
def test_malformed_apdus_never_parse_and_pcsc_can_send_them(raw: bytes) -> None:
    assert len(raw) >= 4  # PC/SC refuses fewer bytes before the card sees them
    with pytest.raises(APDUFormatError):
        CommandAPDU.parse(raw)


@settings(max_examples=100)
@given(malformed_apdus(min_size=0))
def test_malformed_apdus_for_in_process_cards_may_be_shorter(raw: bytes) -> None:
    with pytest.raises(APDUFormatError):
        CommandAPDU.parse(raw)


def test_malformed_apdus_below_a_header_include_the_empty_one() -> None:
    assert find(malformed_apdus(min_size=0), lambda raw: len(raw) < 4) == b""
    with pytest.raises(ValueError, match="min_size"):
        malformed_apdus(min_size=5)


@settings(max_examples=200)
@given(tlv_trees())
def test_tlv_trees_round_trip(tree) -> None:
    assert parse_tlvs(tree.encode()) == [tree]


@given(pans())
def test_pans_pass_luhn(pan: str) -> None:
    assert is_valid(pan) and pan.startswith("62") and 16 <= len(pan) <= 19


@given(pans(length=16, prefix="4"))
def test_pans_of_a_fixed_length(pan: str) -> None:
    assert len(pan) == 16 and pan[0] == "4" and is_valid(pan)


@given(amounts(max_value=1000))
def test_amounts_are_ints_in_range(amount: int) -> None:
    assert isinstance(amount, int) and not isinstance(amount, bool) and 0 <= amount <= 1000


@given(aids(rid=bytes.fromhex("F000000002")))
def test_aids_keep_their_rid(aid: bytes) -> None:
    assert aid.startswith(bytes.fromhex("F000000002")) and 5 <= len(aid) <= 16


@given(status_words())
def test_status_words_are_in_the_iso_ranges(sw: int) -> None:
    assert 0x6100 <= sw <= 0x6FFF or 0x9000 <= sw <= 0x9FFF


@pytest.mark.parametrize("bad", [dict(min_value=5, max_value=4), dict(min_value=-1)])
def test_bad_amount_ranges_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        amounts(**bad)


def test_bad_pan_shapes_are_refused() -> None:
    with pytest.raises(ValueError):
        pans(length=(5, 30))
