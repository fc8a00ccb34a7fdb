"""Answers the card keeps per value are the answers it would compute, and errors repeat."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.commands.gp_extra import (
    _build_card_recognition,
    build_card_recognition,
    parse_card_recognition,
)
from apdu_specs.sw import SWError
from cardlib.payment.perso import _fci_pdol
from cardlib.purse.perso import _purse_values


@settings(max_examples=60)
@given(version=st.lists(st.integers(0, 255), min_size=1, max_size=4),
       scp=st.integers(0, 255), i_parameter=st.integers(0, 255))
def test_card_recognition_is_what_is_built(version: list[int], scp: int,
                                           i_parameter: int) -> None:
    for _ in range(2):  # the second call is answered from the cache
        assert build_card_recognition(version, scp, i_parameter) == \
            _build_card_recognition(version, scp, i_parameter)
    parsed = parse_card_recognition(build_card_recognition(version, scp, i_parameter))
    assert (parsed.scp, parsed.i_parameter) == (scp, i_parameter)


def test_card_recognition_errors_are_not_kept() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            build_card_recognition((2, 3, 1), 3, 0x170)


def test_fci_pdol_checks_every_time() -> None:
    assert _fci_pdol(bytes.fromhex("9F38039F1A02")) == bytes.fromhex("9F1A02")
    assert _fci_pdol(bytes.fromhex("500344454D")) == b""
    for _ in range(2):
        with pytest.raises(SWError) as err:
            _fci_pdol(bytes.fromhex("9F3805"))
        assert err.value.sw == 0x6A80


def test_purse_values_check_every_time() -> None:
    params, balance = _purse_values(0x80, 1000, 10, 0)
    assert (params.algorithm_id, params.max_balance, params.options, balance) == (0x80, 1000, 0, 10)
    for bad in ((0x80, 10, 11, 0), (0x80, 10, 1, 0x40), (0x7E, 10, 1, 0)):
        for _ in range(2):
            with pytest.raises(SWError) as err:
                _purse_values(*bad)
            assert err.value.sw == 0x6A80
