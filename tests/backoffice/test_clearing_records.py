"""Terminal batch files and the software verifier: parsing refuses bad shapes with a
message naming the record; the verifier checks TACs bit-exactly against a published vector."""

from __future__ import annotations

import dataclasses
import json

import pytest

from apdu_specs.documents import DocumentError
from host.backoffice import Asset, SoftwareCardVerifier, StaticKeyStore, parse_batch
from host.backoffice.card_keys import CardKeys, load_key_file, parse_key_data
from host.backoffice.errors import ConfigurationError, InvalidRecordError
from host.backoffice.records import PurseRecord
from host.backoffice.sample_cards import SampleCards, SampleTerminal
from tests.backoffice.backoffice_helpers import T0, TEA_TERMINAL

# Published vector V62 (shared/vectors/public.json): PBOC EP load on a real card, from
# ConardLKL/ChangSha doc/华大智宝/CSMetroScriptandLog_20151102/t2_load.txt (card log).
V62_DTK = bytes.fromhex("caa6025290114bfcc3c9043f70f7a07a")
V62_RECORD = PurseRecord(
    "r1", "load", "CS-CARD", Asset.CONSUMPTION_POINTS, 0x1C37, bytes.fromhex("000001000050"),
    0x0000, "20140825", "103100", bytes.fromhex("ED0F8755"), balance_after=0x1C37,
    purchase_fen=1,
)


def _verifier(dtk: bytes) -> SoftwareCardVerifier:
    return SoftwareCardVerifier(StaticKeyStore({"CS-CARD": CardKeys({V62_RECORD.purse.value: dtk})}))


def test_v62_published_load_tac_verifies() -> None:
    assert _verifier(V62_DTK).verify_purse_tac(V62_RECORD)


@pytest.mark.parametrize("field", ["amount", "balance_after", "card_seq", "time", "tac"])
def test_any_changed_field_breaks_the_v62_tac(field: str) -> None:
    changes = {"amount": 0x1C38, "balance_after": 0x1C38, "card_seq": 1, "time": "103101",
               "tac": bytes.fromhex("ED0F8756")}
    record = dataclasses.replace(V62_RECORD, **{field: changes[field]})
    assert not _verifier(V62_DTK).verify_purse_tac(record)


def test_unknown_cards_and_wrong_keys_verify_false_never_raise() -> None:
    assert not _verifier(bytes(16)).verify_purse_tac(V62_RECORD)
    assert not SoftwareCardVerifier(StaticKeyStore({})).verify_purse_tac(V62_RECORD)
    assert not _verifier(b"\x01" * 24).verify_purse_tac(V62_RECORD)  # a 3-key DTK: no TAC key


def test_sample_cards_round_trip_through_the_verifier() -> None:
    cards = SampleCards("records")
    terminal = SampleTerminal(TEA_TERMINAL, cards)
    pay = terminal.pay("CARD1", 1_234, T0, application="credit")
    terminal.load("CARD1", 12, 1_234, T0, payment_ref=pay)
    terminal.spend("CARD1", 5, T0)
    batch = terminal.close_batch("B")
    verifier = SoftwareCardVerifier(cards.key_store(["CARD1"]))
    payment, load, spend = batch.records
    assert verifier.verify_payment_cryptogram(payment)
    assert verifier.verify_purse_tac(load) and verifier.verify_purse_tac(spend)
    assert parse_batch(json.loads(json.dumps(batch.as_dict()))).digest == batch.digest


def _batch(**record) -> dict:
    base = {"id": "r1", "type": "load", "card_id": "CARD1", "purse": "consumption_points",
            "amount": 10, "card_seq": 0, "date": "20250314", "time": "101500",
            "tac": "00112233", "balance_after": 10, "purchase_fen": 1000}
    base.update(record)
    return {"format": "dualcard-terminal-batch/1", "batch_id": "B1",
            "terminal_id": TEA_TERMINAL, "records": [base]}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"amount": 1.5}, "amount"),
        ({"amount": -1}, "amount"),
        ({"tac": "0011"}, "tac must be 4 bytes"),
        ({"tac": "zz112233"}, "tac must be hex"),
        ({"date": "2025-03-14"}, "YYYYMMDD"),
        ({"purse": "gold"}, "purse"),
        ({"type": "refund"}, "unknown record type"),
        ({"card_seq": 70000}, "card_seq"),
        ({"purchase_fen": None}, "purchase_fen"),
    ],
)
def test_bad_records_are_refused_by_name(record: dict, message: str) -> None:
    with pytest.raises(InvalidRecordError, match="record #0") as info:
        parse_batch(_batch(**record))
    assert message in str(info.value)


def test_bad_batches_are_refused() -> None:
    for data in ([], {"format": "other"}, {**_batch(), "records": []},
                 {**_batch(), "terminal_id": "XYZ"}, {**_batch(), "batch_id": "a b"}):
        with pytest.raises(InvalidRecordError):
            parse_batch(data)
    doubled = _batch()
    doubled["records"] = doubled["records"] * 2
    with pytest.raises(InvalidRecordError, match="duplicate id"):
        parse_batch(doubled)


def test_key_files(tmp_path) -> None:
    data = SampleCards("keys").key_file_data(["CARD1"])
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    store = load_key_file(path)
    assert store.tac_key_of("CARD1", Asset.BANK_POINTS) is not None
    assert store.ac_master_key_of("CARD1", "debit") is not None
    assert store.tac_key_of("CARD2", Asset.BANK_POINTS) is None
    assert "cards" in repr(store)
    assert not any(key in repr(store) for key in data["cards"]["CARD1"]["dtk"].values())
    shared = {**data, "cards": {"C": {**data["cards"]["CARD1"], "dtk": "00" * 16}}}
    with pytest.raises(ConfigurationError, match="one DTK for every purse"):
        parse_key_data(shared)
    with pytest.raises(ConfigurationError):
        parse_key_data({"format": "x"})
    with pytest.raises(ConfigurationError):
        parse_key_data({**data, "cards": {"C": {"dtk": {"bank_points": "00"}}}})
    with pytest.raises(DocumentError, match=r"missing\.json: cannot read"):
        load_key_file(tmp_path / "missing.json")
