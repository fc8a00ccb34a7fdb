"""The TVR model: each named condition is its own bit, where EMV Book 3 Annex C5 puts it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.tvr import TVR_LENGTH, TVRBit, bits_set, set_bits

ZERO = bytes(TVR_LENGTH)


@pytest.mark.parametrize(("bit", "tvr"), [
    (TVRBit.CARDHOLDER_VERIFICATION_FAILED, "0000800000"),  # byte 3 b8
    (TVRBit.PIN_TRY_LIMIT_EXCEEDED, "0000200000"),  # byte 3 b6
    (TVRBit.ISSUER_AUTHENTICATION_FAILED, "0000000040"),  # byte 5 b7
    (TVRBit.OFFLINE_DATA_AUTHENTICATION_NOT_PERFORMED, "8000000000"),  # byte 1 b8
    (TVRBit.FLOOR_LIMIT_EXCEEDED, "0000008000"),  # byte 4 b8
])
def test_bits_sit_where_book_3_puts_them(bit: TVRBit, tvr: str) -> None:
    assert set_bits(ZERO, bit) == bytes.fromhex(tvr)


def test_no_two_conditions_share_a_bit() -> None:
    assert all(1 <= bit.byte <= TVR_LENGTH and bin(bit.mask).count("1") == 1 for bit in TVRBit)
    assert len({bit.value for bit in TVRBit}) == len(TVRBit)


@given(tvr=st.binary(min_size=TVR_LENGTH, max_size=TVR_LENGTH),
       bits=st.frozensets(st.sampled_from(list(TVRBit))))
def test_setting_bits_keeps_every_other_bit(tvr: bytes, bits: frozenset[TVRBit]) -> None:
    out = set_bits(tvr, *bits)
    assert bits_set(out) == bits_set(tvr) | bits
    assert set_bits(out, *bits) == out
    masks = [0] * TVR_LENGTH
    for bit in bits:
        masks[bit.byte - 1] |= bit.mask
    assert all(o & ~m == t & ~m for o, t, m in zip(out, tvr, masks, strict=True))
    assert bits_set(set_bits(ZERO, *bits)) == bits


@pytest.mark.parametrize("tvr", [b"", bytes(4), bytes(6)])
def test_a_tvr_is_five_bytes(tvr: bytes) -> None:
    with pytest.raises(PaymentFormatError, match="5 bytes"):
        set_bits(tvr, TVRBit.NEW_CARD)
    with pytest.raises(PaymentFormatError, match="5 bytes"):
        bits_set(tvr)
