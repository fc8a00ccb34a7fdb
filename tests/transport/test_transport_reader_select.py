"""Reader selection: exact, substring, re:, #N; never guessing (ecosystem §3.1)."""

from __future__ import annotations

import pytest

from host.transport.base import NoReaderError, ReaderAmbiguousError, ReaderSpecError
from host.transport.reader_select import (
    dual_slot_pair,
    match_readers,
    select_card_readers,
    select_reader,
    visible_readers,
)

pytestmark = pytest.mark.unit

VPCD0, VPCD1 = "Virtual PCD 00 00", "Virtual PCD 00 01"
SCM = "SCM SCR 331 (80000F3A) 01 00"
GEMALTO = "Gemalto Prox-DU [Prox-DU Contactless_09A00795] (09A00795) 02 00"
READERS = [VPCD0, VPCD1, SCM, GEMALTO]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", READERS),
        (SCM, [SCM]),
        ("scm", [SCM]),
        ("virtual", [VPCD0, VPCD1]),
        ("re:^Virtual.*01$", [VPCD1]),
        ("re:Prox|SCR", [SCM, GEMALTO]),
        ("#0", [VPCD0]),
        ("3", [GEMALTO]),
        ("#9", []),
        ("nothing like it", []),
    ],
)
def test_match_readers(spec: str, expected: list[str]) -> None:
    assert match_readers(spec, READERS) == expected


def test_exact_name_beats_index_and_substring() -> None:
    readers = ["1", "Reader 1 00 00"]
    assert match_readers("1", readers) == ["1"]
    assert match_readers("#1", readers) == ["Reader 1 00 00"]


def test_bad_regex_is_a_spec_error() -> None:
    with pytest.raises(ReaderSpecError, match="bad reader regex"):
        match_readers("re:(", READERS)


def test_select_reader_returns_the_single_match() -> None:
    assert select_reader("SCR 331", READERS) == SCM
    assert select_reader(None, [SCM]) == SCM


def test_select_reader_refuses_to_guess() -> None:
    with pytest.raises(ReaderAmbiguousError) as info:
        select_reader("re:Prox|SCR", READERS)
    assert info.value.candidates == (SCM, GEMALTO)
    with pytest.raises(ReaderAmbiguousError):
        select_reader("", READERS)


def test_no_match_lists_what_is_available() -> None:
    with pytest.raises(NoReaderError) as info:
        select_reader("omnikey", READERS)
    assert info.value.available == tuple(READERS)
    assert "Virtual PCD 00 00" in str(info.value)


def test_no_reader_at_all() -> None:
    with pytest.raises(NoReaderError, match="no PC/SC reader"):
        select_reader("", [])


def test_dual_slot_reader_maps_slot_00_to_chip_1_and_01_to_chip_2() -> None:
    assert select_reader("Virtual PCD", READERS, chip=1) == VPCD0
    assert select_reader("Virtual PCD", READERS, chip=2) == VPCD1
    with pytest.raises(ReaderAmbiguousError, match="choose chip 1 or 2"):
        select_reader("Virtual PCD", READERS)


def test_a_single_named_slot_serves_whichever_chip_is_asked() -> None:
    assert select_reader(VPCD1, READERS, chip=1) == VPCD1


def test_chip_must_be_1_or_2() -> None:
    with pytest.raises(ReaderSpecError):
        select_reader("Virtual PCD", READERS, chip=3)


def test_ignore_hides_readers_before_matching() -> None:
    assert visible_readers(READERS, ["virtual", "prox"]) == [SCM]
    assert select_reader("", READERS, ignore=["virtual", "prox"]) == SCM


def test_dual_slot_pair() -> None:
    assert dual_slot_pair([VPCD1, VPCD0]) == (VPCD0, VPCD1)
    assert dual_slot_pair([VPCD0, SCM]) is None
    assert dual_slot_pair(["A 00 00", "A 01 01"]) is None
    assert dual_slot_pair(["A 00 01", "A 00 02"]) is None
    assert dual_slot_pair([VPCD0]) is None


def test_select_card_readers() -> None:
    assert select_card_readers("Virtual PCD", READERS) == (VPCD0, VPCD1)
    assert select_card_readers(VPCD0, READERS) == (VPCD0, VPCD1)
    with pytest.raises(NoReaderError, match="not slot 00"):
        select_card_readers(VPCD1, READERS)
    with pytest.raises(NoReaderError, match="not slot 00"):
        select_card_readers("SCR", READERS)
    with pytest.raises(ReaderAmbiguousError, match="one dual-slot reader"):
        select_card_readers("", READERS)
