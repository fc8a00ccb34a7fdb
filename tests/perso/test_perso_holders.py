"""Holder records, card data, PINs, the PIN mailer and the audit journal."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.luhn import is_valid
from apdu_specs.documents import DocumentError
from host.perso import (
    AuditJournal,
    AuditJournalError,
    AuditRecord,
    BatchIdentity,
    CardNumbers,
    HolderError,
    PINMailer,
    Profile,
    generate_pin,
    holder_from_json,
    mask_pan,
    read_holders,
    read_holders_text,
    resolve_card,
)
from host.perso.profile import PANRange

from .perso_helpers import HOLDERS, TODAY

pytestmark = pytest.mark.unit

HEADER = "name,holder_id,pan,expiry,card_id\n"


def _numbers(n: int) -> CardNumbers:
    """Card numbers as the number store would give out the ``n``-th."""
    return CardNumbers(f"8860{n:012d}", PANRange("622202", 16, 1).pan_at(n), "01")


def test_sample_holders() -> None:
    holders = read_holders(HOLDERS)
    assert [h.name for h in holders][:2] == ["ZHANG/WEI", "LI/NA"]
    assert holders[1].expiry == "3012" and holders[2].pan == "6222030000000071"
    assert holders[0].pan is None and holders[0].row == 1


@pytest.mark.parametrize(("text", "where", "column", "message"), [
    (HEADER + "LI/NA,C-1,6222020000000990,,\n", "row 1", "pan", "Luhn"),
    (HEADER + "LI/NA,C-1,62220200,,\n", "row 1", "pan", "12 to 19 digits"),
    (HEADER + "LI/NA,,,,\n", "row 1", "holder_id", "is required"),
    (HEADER + "L,C-1,,,\n", "row 1", "name", "2 to 26"),
    (HEADER + "LI^NA,C-1,,,\n", "row 1", "name", r"'\^' cannot be embossed"),
    (HEADER + "LI/NA,C-1,,2513,\n", "row 1", "expiry", "YYMM"),
    (HEADER + "LI/NA,C-1,,,12\n", "row 1", "card_id", "8 to 19 digits"),
    (HEADER + "LI/NA,C-1,,,\nWU/DI,C-2,,,,extra\n", "row 2", "(extra)", "more fields"),
    ("name,holder_id,email\nLI/NA,C-1,x@y\n", "header", "email", "not a holder column"),
    ("name,pan\nLI/NA,\n", "header", "holder_id", "is missing"),
    (HEADER + "A/B,C-1,,,8860000000000001\nC/D,C-2,,,8860000000000001\n", "row 2", "card_id",
     "repeats row 1"),
    (HEADER + "A/B,C-1,,,\nC/D,C-2,,,\nE/F,C-1,,,\n", "line 4", "holder_id",
     "already on line 2"),
])
def test_holder_errors_name_row_and_column(text: str, where: str, column: str,
                                           message: str) -> None:
    with pytest.raises(HolderError, match=message) as info:
        list(read_holders_text(text, "h.csv"))
    assert where in info.value.where and info.value.column == column


def test_holder_json_for_a_single_card() -> None:
    holder = holder_from_json('{"name": "doe/jane", "holder_id": "X", "pan": "6222030000000071", '
                              '"card_id": "8860000000009999"}')
    assert holder.name == "DOE/JANE"
    lone = holder_from_json('{"name": "DOE/JANE", "holder_id": "X"}')  # the store numbers it
    assert (lone.pan, lone.card_id) == (None, None)
    with pytest.raises(HolderError, match=r"'pan'.*required"):
        holder_from_json('{"name": "DOE/JANE", "holder_id": "X"}', require=("pan",))
    with pytest.raises(HolderError, match="not a holder field"):
        holder_from_json('{"name": "DOE/JANE", "holder_id": "X", "pin": "1234"}')
    with pytest.raises(HolderError, match="not JSON"):
        holder_from_json("{name}")


def test_resolution_takes_the_numbers_given_and_a_fresh_pin(profile: Profile) -> None:
    holder = read_holders(HOLDERS)[0]
    one = resolve_card(holder, profile, _numbers(1), today=TODAY)
    two = resolve_card(holder, profile, _numbers(1), today=TODAY)
    assert (one.card_id, one.pan, one.expiry) == (two.card_id, two.pan, two.expiry)
    assert one.card_id == "8860000000000001" and is_valid(one.pan) and one.pan.startswith("622202")
    assert one.expiry == "2901" and one.expiry_date == "290131"  # 48 months after 2025-01
    assert len(one.pin) == 6
    assert one.pin not in repr(one) and one.pan not in repr(one)
    assert not one.already_issued
    issued = CardNumbers(one.card_id, one.pan, "01", issued=True)
    assert resolve_card(holder, profile, issued, today=TODAY).already_issued
    with pytest.raises(HolderError, match="no number store"):
        resolve_card(holder, profile, today=TODAY)  # no numbers of its own, none given


def test_an_expiry_in_the_past_is_refused(profile: Profile) -> None:
    holder = holder_from_json('{"name": "A/B", "holder_id": "1", "pan": "6222030000000071", '
                              '"card_id": "88600000", "expiry": "2412"}')
    with pytest.raises(HolderError, match="in the past"):
        resolve_card(holder, profile, today=TODAY)


@settings(max_examples=50, deadline=None)
@given(st.text("0123456789", min_size=1, max_size=8), st.integers(13, 19), st.integers(0, 999))
def test_pan_range_numbers_pass_luhn(prefix: str, length: int, index: int) -> None:
    pans = PANRange(prefix, length, 0)
    pan = pans.pan_at(index)
    assert len(pan) == length and pan.startswith(prefix) and is_valid(pan)


@settings(max_examples=40, deadline=None)
@given(st.integers(4, 12))
def test_generated_pins(length: int) -> None:
    pin = generate_pin(length)
    assert len(pin) == length and pin.isdigit()
    assert len(set(pin)) > 1


def test_mask_pan() -> None:
    assert mask_pan("6222030000000071") == "622203******0071"
    assert mask_pan("1234567890") == "******7890"


def test_pin_mailer_is_private_and_holds_no_keys(tmp_path: Path, profile: Profile) -> None:
    path = tmp_path / "mail" / "pins.csv"
    mailer = PINMailer(path)
    cards = [resolve_card(h, profile, _numbers(n), today=TODAY)
             for n, h in enumerate(read_holders(HOLDERS)[:2], start=1)]
    for card in cards:
        mailer.add(card)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert lines[0] == "card_id,holder_id,name,pan_last4,pin,status"
    assert lines[1].split(",") == [cards[0].card_id, "C-100001", "ZHANG/WEI", cards[0].pan[-4:],
                                   cards[0].pin, "current"]
    assert cards[0].pan not in path.read_text()


def _journal(path: Path, input_hash: str = "in") -> AuditJournal:
    return AuditJournal(path, BatchIdentity("prof", input_hash, {"isd": "ABCDEF"}))


def _card(row: int, result: str) -> AuditRecord:
    return AuditRecord(row, f"88600000000000{row:02d}", f"C-{row}", "622202******0001", result)


def test_audit_journal_resumes_and_survives_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    journal = _journal(path)
    assert journal.open() == {}
    journal.record(_card(1, "issued"))
    journal.record(_card(2, "failed"))
    with path.open("a") as fh:
        fh.write('{"type": "card", "row": 3, "res')  # the crash happened here
    again = _journal(path)
    assert again.open() == {1: "issued", 2: "failed"}
    assert again.should_skip(1) and again.should_skip(2) and not again.should_skip(3)
    assert not again.should_skip(2, retry_failed=True)
    again.record(_card(3, "issued"))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["batch", "card", "card", "resume", "card"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_audit_journal_of_another_batch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _journal(path).open()
    with pytest.raises(AuditJournalError, match="another input file"):
        _journal(path, "other").open()
    path.write_text('{"type": "batch"}\nnot json\n')
    with pytest.raises(DocumentError, match=r"audit.jsonl:2: not JSON"):
        _journal(path).open()
