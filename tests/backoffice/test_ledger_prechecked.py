"""The trusted constructor clearing uses builds exactly what the checked one builds, and
falls back to the checked path (and its errors) for anything it does not vouch for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from host.backoffice import Asset, Reason, Source, SourceKind, Transfer
from host.backoffice.errors import ValidationError

SOURCE = Source(SourceKind.TERMINAL, "00000000B001")


def both(id_: str, amount: int, details: dict) -> tuple[Transfer, Transfer]:
    args = (id_, "C001:consumption_points", "M001:consumption_points", amount,
            Asset.CONSUMPTION_POINTS, Reason.EARN, SOURCE)
    fast = Transfer.single_prechecked(*args, "batch-1", dict(sorted(details.items())))
    checked = Transfer.single(*args, correlation_id="batch-1", details=details)
    return fast, checked


@given(st.integers(1, 10**12), st.dictionaries(st.sampled_from(["a", "b", "record"]),
                                               st.integers(0, 10**6) | st.text(max_size=8),
                                               max_size=3))
def test_same_transfer_as_the_checked_constructor(amount, details):
    fast, checked = both("rec-1", amount, details)
    assert fast == checked


@pytest.mark.parametrize(("id_", "amount"), [("", 5), ("rec-1", 0), ("rec-1", -3)])
def test_bad_values_raise_the_usual_error(id_, amount):
    with pytest.raises(ValidationError):
        both(id_, amount, {})
