"""Host-side pieces: key diversification, key objects and files, codecs, records."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.commands.purse_data import (
    Purse,
    TransactionType,
    build_fci,
    decode_identity,
    encode_identity,
    encode_pin,
    parse_fci,
    parse_transaction_time,
)
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.documents import DocumentError
from apdu_specs.errors import SpecError
from host.points import (
    FixedCardKeys,
    PointsError,
    PurseCardKeys,
    PurseRecord,
    diversification_data,
    diversify_purse_key,
    verify_tac,
)
from host.points.keyfile import issuer_keys_from_dict, issuer_keys_to_dict, load_issuer_keys

from .purse_helpers import IDENTITY, issuer_keys

MASTER = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


def _ecb(cipher, block: bytes) -> bytes:
    enc = Cipher(cipher, modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def test_diversification_data_is_identity_and_purse_in_bcd():
    # rightmost 16 digits of identity ‖ purse number, zero-padded on the left
    assert diversification_data("6200001234567890", Purse.BANK) == bytes.fromhex("0000123456789002")
    assert diversification_data("12345678", Purse.CREDIT) == bytes.fromhex("0000001234567803")


def test_diversification_matches_an_independent_computation():
    """Cross-check against ``cryptography`` used directly (no project code in the expectation)."""
    y = bytes.fromhex("0000123456789002")
    inv = bytes(b ^ 0xFF for b in y)
    tdes = TripleDES(MASTER + MASTER[:8])
    raw = _ecb(tdes, y) + _ecb(tdes, inv)
    odd = bytes((b & 0xFE) | (bin(b & 0xFE).count("1") % 2 == 0) for b in raw)
    assert diversify_purse_key(MASTER, IDENTITY, Purse.BANK, Algorithm.TDES) == odd
    assert diversify_purse_key(MASTER, IDENTITY, Purse.BANK, Algorithm.AES) == \
        _ecb(algorithms.AES(MASTER), y + inv)
    assert diversify_purse_key(MASTER, IDENTITY, Purse.BANK, Algorithm.SM4) == \
        _ecb(algorithms.SM4(MASTER), y + inv)


def test_every_purse_and_card_gets_its_own_keys():
    keys = issuer_keys()
    seen = {keys.card_keys(card, purse).dtk for card in (IDENTITY, "6200001234567891")
            for purse in Purse}
    assert len(seen) == 6


def test_key_objects_never_show_keys():
    keys = issuer_keys()
    card = keys.card_keys(IDENTITY, Purse.CONSUMPTION)
    for obj in (keys, card, FixedCardKeys({Purse.BANK: card})):
        text = repr(obj)
        for secret in (keys.load_master, keys.tac_master, card.dlk, card.dtk):
            assert secret.hex() not in text.lower() and secret.hex().upper() not in text
    assert "KCV" in repr(keys) and "KCV" in repr(card)


def test_key_validation():
    with pytest.raises(PointsError):
        PurseCardKeys(Algorithm.AES, bytes(8), bytes(16), bytes(16))
    with pytest.raises(PointsError):
        PurseCardKeys(Algorithm.DES, bytes(16), bytes(16), bytes(16))
    with pytest.raises(PointsError):
        PurseCardKeys(Algorithm.AES, bytes(16), bytes(16), bytes(16), key_index=0)
    with pytest.raises(PointsError):
        FixedCardKeys({}).card_keys(IDENTITY, Purse.BANK)
    with pytest.raises(SpecError):
        diversification_data("12AB", Purse.BANK)


def test_key_file_round_trip_and_errors(tmp_path):
    for algorithm in (Algorithm.TDES, Algorithm.AES, Algorithm.SM4):
        keys = issuer_keys(algorithm)
        path = tmp_path / f"{algorithm.value}.json"
        path.write_text(json.dumps(issuer_keys_to_dict(keys)), encoding="utf-8")
        assert load_issuer_keys(path) == keys
    good = issuer_keys_to_dict(issuer_keys())
    for broken in ({**good, "format": "x"}, {k: v for k, v in good.items() if k != "tac_master"},
                   {**good, "algorithm": "RC4"}, {**good, "load_master": "XYZ"},
                   {**good, "key_index": "1"}, {**good, "load_master": "00"}, []):
        with pytest.raises(PointsError):
            issuer_keys_from_dict(broken)
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(DocumentError, match="not JSON"):
        load_issuer_keys(tmp_path / "bad.json")


@given(st.text(alphabet="0123456789", min_size=8, max_size=19))
def test_identity_round_trip(identity):
    assert decode_identity(encode_identity(identity)) == identity


@pytest.mark.parametrize("bad", ["1234567", "12345678901234567890", "12345678a",
                                 "１２３４５６７８", ""])
def test_identity_rejects(bad):
    with pytest.raises(SpecError):
        encode_identity(bad)


def test_pin_and_time_codecs():
    assert encode_pin("1234") == bytes.fromhex("1234")
    assert encode_pin("12345") == bytes.fromhex("12345F")
    for bad in ("123", "1234567890123", "12a4"):
        with pytest.raises(SpecError):
            encode_pin(bad)
    assert parse_transaction_time(bytes.fromhex("20140825103100")) == \
        dt.datetime(2014, 8, 25, 10, 31)
    for bad in ("201408251031", "20141325103100", "2014082510310A", "20140230103100"):
        with pytest.raises(SpecError):
            parse_transaction_time(bytes.fromhex(bad))


@given(st.dictionaries(st.sampled_from(list(Purse)), st.sampled_from([0x00, 0x04, 0x80])),
       st.text(alphabet="0123456789", min_size=8, max_size=19))
def test_fci_round_trip(purses, identity):
    fci = parse_fci(build_fci(b"\xf0\x00\x00\x00\x02\x01\x01", encode_identity(identity), purses))
    assert (fci.identity, fci.purses) == (identity, purses)


@given(st.binary(max_size=40))
def test_fci_parser_raises_only_spec_errors(raw):
    with contextlib.suppress(SpecError):
        parse_fci(raw)


def test_purse_names():
    assert Purse.named("Bank") is Purse.BANK and Purse.named(3) is Purse.CREDIT
    assert Purse.named("01") is Purse.CONSUMPTION
    assert [p.log_reference for p in Purse] == [0xC4, 0xCC, 0xD4]
    for bad in ("gold", 0, 4, True):
        with pytest.raises(SpecError):
            Purse.named(bad)


@given(amount=st.integers(-5, 2**33), seq=st.integers(-1, 2**17), tac=st.binary(max_size=6),
       terminal=st.binary(max_size=8))
def test_verify_tac_answers_false_never_raises(amount, seq, tac, terminal):
    record = PurseRecord(IDENTITY, Purse.BANK, TransactionType.LOAD, amount, amount, seq, terminal,
                         seq, dt.datetime(2024, 1, 1), tac)
    assert verify_tac(IDENTITY, record, tac_master_key=MASTER) in (True, False)
    purchase = dataclasses.replace(record, txn_type=TransactionType.PURCHASE)
    assert verify_tac(IDENTITY, purchase, tac_master_key=MASTER) in (True, False)
    assert verify_tac("not-digits", record, tac_master_key=MASTER) is False
    with pytest.raises(PointsError):
        verify_tac(IDENTITY, record, tac_master_key=bytes(8))
