from __future__ import annotations

import pytest

from apdu_specs.sw import SW, CardError, SWCategory, SWError, category, check, describe, tries_left


@pytest.mark.parametrize(("sw", "cat"), [
    (0x9000, SWCategory.NORMAL), (0x6110, SWCategory.NORMAL), (0x63C2, SWCategory.WARNING),
    (0x6581, SWCategory.EXECUTION), (0x6700, SWCategory.CHECKING),
    (0x6982, SWCategory.SECURITY), (0x6988, SWCategory.SECURITY),
    (0x9401, SWCategory.PROPRIETARY), (0x9302, SWCategory.SECURITY),
])
def test_categories(sw, cat):
    assert category(sw) is cat


def test_parametrised_meanings():
    assert "3 tries left" in describe(0x63C3)
    assert "16 more" in describe(0x6110)
    assert "256" in describe(0x6C00)
    assert describe(0x9406).startswith("purse")


def test_tries_left_is_data():
    assert tries_left(0x63C2) == 2
    assert tries_left(0x9000) is None
    assert tries_left(0x6983) is None


def test_card_error_names_command_sw_and_meaning():
    with pytest.raises(CardError) as info:
        check(0x6A82, command="SELECT")
    err = info.value
    assert err.sw == 0x6A82 and err.command == "SELECT"
    assert "SELECT" in str(err) and "6A82" in str(err) and "not found" in str(err)
    assert check(0x6310, expect=(0x9000, 0x6310)) == 0x6310


def test_sw_error_rejects_out_of_range():
    assert SWError(SW.WRONG_LENGTH).sw == 0x6700
    with pytest.raises(ValueError):
        SWError(0x10000)


def test_registry_has_every_domain_fact_sw():
    needed = [0x6310, 0x6400, 0x6581, 0x6700, 0x6881, 0x6882, 0x6883, 0x6884, 0x6981, 0x6982,
              0x6983, 0x6984, 0x6985, 0x6986, 0x6987, 0x6988, 0x6A80, 0x6A81, 0x6A82, 0x6A83,
              0x6A84, 0x6A86, 0x6A88, 0x6B00, 0x6D00, 0x6E00, 0x6F00, 0x9302, 0x9303, 0x9401,
              0x9402, 0x9403, 0x9406]
    known = {int(s) for s in SW}
    assert not [f"{s:04X}" for s in needed if s not in known]
