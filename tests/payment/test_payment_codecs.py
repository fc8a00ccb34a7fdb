"""The shared payment data layouts: round trips (hypothesis) and typed errors on bad input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.payment import dgi as D
from apdu_specs.payment.ac_type import ACType
from apdu_specs.payment.afl import AFLEntry, decode_afl, encode_afl
from apdu_specs.payment.bcd import decode_numeric, encode_numeric
from apdu_specs.payment.cryptogram import AES_CVN, TDES_CVN, VERSIONS, version_for
from apdu_specs.payment.cvr import CVR, CardHistory
from apdu_specs.payment.errors import PaymentFormatError
from apdu_specs.payment.iad import IssuerApplicationData
from apdu_specs.payment.issuer_response import (
    ARPCMethod,
    CardStatusUpdate,
    IssuerAuthenticationData,
)
from apdu_specs.payment.pin_block import decode_pin_block, encode_pin_block
from apdu_specs.payment.script import AFTER_SECOND_AC, IssuerScript, decode_scripts, encode_scripts

histories = st.builds(CardHistory, *(st.booleans() for _ in range(6)),
                      scripts_processed=st.integers(0, 15), script_failed=st.booleans(),
                      application_blocked=st.booleans())
cvrs = st.builds(CVR, st.sampled_from(list(ACType)), st.sampled_from([None, ACType.AAC, ACType.TC]),
                 st.booleans(), st.booleans(), st.booleans(), st.booleans(), histories)


@given(cvrs, st.integers(0, 255), st.sampled_from([TDES_CVN, AES_CVN]))
def test_cvr_and_iad_round_trip(cvr: CVR, dki: int, cvn: int) -> None:
    iad = IssuerApplicationData(dki, cvn, cvr)
    assert IssuerApplicationData.decode(iad.encode()) == iad
    assert len(iad.encode()) == 7 and iad.encode()[0] == 6


def test_published_cvr_reads_as_documented() -> None:
    cvr = CVR.decode(bytes.fromhex("03A0B800"))
    assert (cvr.first_ac, cvr.second_ac) == (ACType.ARQC, None)
    h = cvr.history
    assert (h.last_online_incomplete, h.velocity_exceeded, h.new_card, h.issuer_auth_failed_last,
            h.pin_try_limit_exceeded) == (True, True, True, True, False)


@given(st.text(alphabet="0123456789", min_size=4, max_size=12))
def test_pin_block_round_trip(pin: str) -> None:
    block = encode_pin_block(pin)
    assert len(block) == 8 and decode_pin_block(block) == pin


@pytest.mark.parametrize("bad", ["123", "1234567890123", "12a4", ""])
def test_pin_block_rejects_bad_pins(bad: str) -> None:
    with pytest.raises(PaymentFormatError):
        encode_pin_block(bad)


@given(st.binary(min_size=8, max_size=8))
def test_pin_block_decoder_never_escapes_its_error(block: bytes) -> None:
    try:
        pin = decode_pin_block(block)
    except PaymentFormatError:
        return
    assert encode_pin_block(pin) == block


@given(st.integers(0, 10**12 - 1))
def test_bcd_round_trip(value: int) -> None:
    assert decode_numeric(encode_numeric(value, 6)) == value


def test_bcd_rejects_non_decimal() -> None:
    with pytest.raises(PaymentFormatError):
        decode_numeric(b"\x1A")
    with pytest.raises(PaymentFormatError):
        encode_numeric(1000, 1)


@given(st.lists(st.builds(lambda sfi, first, n, oda: AFLEntry(sfi, first, first + n, min(oda, n + 1)),
                          st.integers(1, 30), st.integers(1, 200), st.integers(0, 50),
                          st.integers(0, 51)), min_size=1, max_size=5))
def test_afl_round_trip(entries: list[AFLEntry]) -> None:
    assert decode_afl(encode_afl(entries)) == entries


@given(st.binary(max_size=16))
def test_afl_decoder_never_escapes_its_error(data: bytes) -> None:
    with contextlib.suppress(PaymentFormatError):
        decode_afl(data)


csus = st.builds(CardStatusUpdate, st.booleans(), st.booleans(), st.booleans(), st.integers(0, 15),
                 st.booleans(), st.booleans(), st.booleans())


@given(csus, st.binary(min_size=4, max_size=4), st.binary(max_size=8))
def test_issuer_authentication_data_method_2(csu, arpc, proprietary) -> None:
    data = IssuerAuthenticationData(ARPCMethod.METHOD_2, arpc, csu=csu, proprietary=proprietary)
    assert IssuerAuthenticationData.decode(data.encode(), ARPCMethod.METHOD_2) == data


@given(st.one_of(st.tuples(st.just(ARPCMethod.METHOD_1), st.binary(min_size=10, max_size=10)),
                 st.tuples(st.just(ARPCMethod.METHOD_2), st.binary(min_size=8, max_size=16))))
def test_issuer_authentication_data_keeps_the_bytes_received(case) -> None:
    """Reserved CSU bits included: what the ARPC is checked over is what came."""
    method, raw = case
    data = IssuerAuthenticationData.decode(raw, method)
    assert data.encode() == raw and data.arpc + data.authenticated == raw


def test_issuer_authentication_data_refuses_csu_bytes_that_contradict_the_csu() -> None:
    with pytest.raises(PaymentFormatError):
        IssuerAuthenticationData(ARPCMethod.METHOD_2, bytes(4), csu=CardStatusUpdate(approved=True),
                                 csu_bytes=bytes(4))


@given(st.binary(max_size=20), st.sampled_from(list(ARPCMethod)))
def test_issuer_authentication_decoder_never_escapes(raw: bytes, method: ARPCMethod) -> None:
    with contextlib.suppress(PaymentFormatError):
        IssuerAuthenticationData.decode(raw, method)


def test_dgi_parameters_round_trip_and_reject() -> None:
    crypto = D.CryptoParameters(TDES_CVN, 2, ARPCMethod.METHOD_1, 0x0019)
    assert D.CryptoParameters.decode(crypto.encode()) == crypto
    risk = D.RiskParameters(50_000, 156, 1, 4, credit_limit=1_000_000)
    assert D.RiskParameters.decode(risk.encode()) == risk
    with pytest.raises(PaymentFormatError):
        D.CryptoParameters.decode(bytes.fromhex("9901020000"))  # unknown CVN
    with pytest.raises(PaymentFormatError):
        D.RiskParameters(1, 156, 5, 4)  # lower above upper
    with pytest.raises(PaymentFormatError):
        version_for(0x77)
    assert D.record_of_dgi(D.record_dgi(2, 3)) == (2, 3) and D.record_of_dgi(0x9102) is None


@given(st.lists(st.binary(min_size=5, max_size=30), min_size=1, max_size=4),
       st.sampled_from([b"", b"\x00\x00\x00\x01"]))
def test_script_templates_round_trip(commands, ident) -> None:
    scripts = [IssuerScript(tuple(commands), identifier=ident),
               IssuerScript(tuple(commands[:1]), AFTER_SECOND_AC)]
    assert decode_scripts(encode_scripts(scripts)) == scripts


@given(st.sampled_from(list(VERSIONS.values())), st.binary(max_size=40), st.binary(min_size=16,
                                                                                   max_size=16))
def test_encipher_round_trip(version, plaintext, key) -> None:
    assert version.decipher(key, version.encipher(key, plaintext)) == plaintext
