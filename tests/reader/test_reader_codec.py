"""The binding's bytes: the status round-trips, and the card's proof never answers as the
reader's (the labels keep the two directions apart)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.crypto.errors import MACError
from apdu_specs.payment.binding import (
    BindingStatus,
    card_proof,
    reader_proof,
    verify_card_proof,
    verify_reader_proof,
)
from apdu_specs.payment.cryptogram import AES_CVN, TDES_CVN, version_for
from apdu_specs.payment.errors import PaymentFormatError

EIGHT = st.binary(min_size=8, max_size=8)


@given(st.booleans(), st.integers(0, 0xFFFF), st.sampled_from([AES_CVN, TDES_CVN]), EIGHT)
def test_status_round_trips(bound, counter, cvn, reader_id) -> None:
    status = BindingStatus(bound, counter, cvn, reader_id)
    assert BindingStatus.decode(status.encode()) == status


@given(st.sampled_from([AES_CVN, TDES_CVN]), st.binary(min_size=16, max_size=16), EIGHT, EIGHT,
       EIGHT)
def test_the_card_proof_is_not_a_reader_proof(cvn, key, reader_id, first, second) -> None:
    version = version_for(cvn)
    proof = card_proof(version, key, reader_id, first, second)
    verify_card_proof(version, key, reader_id, first, second, proof)
    assert proof != reader_proof(version, key, reader_id, first, second)
    with pytest.raises(MACError):
        verify_reader_proof(version, key, reader_id, first, second, proof)


def test_malformed_inputs_are_refused() -> None:
    with pytest.raises(PaymentFormatError):
        BindingStatus.decode(bytes(11))
    with pytest.raises(PaymentFormatError):
        card_proof(version_for(AES_CVN), bytes(16), bytes(7), bytes(8), bytes(8))
