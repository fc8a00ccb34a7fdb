"""Expected status words and response data with wildcards."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.qa import DataPattern, QAError, SWPattern, parse_sw_list
from host.qa.patterns import declared_sw_patterns

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("pattern", "sw", "matches"), [
    ("9000", 0x9000, True), ("9000", 0x9001, False), ("61XX", 0x6110, True),
    ("61XX", 0x6210, False), ("63cx", 0x63C2, True), ("63CX", 0x6302, False),
    ("XXXX", 0x1234, True),
])
def test_sw_patterns(pattern: str, sw: int, matches: bool) -> None:
    assert SWPattern.parse(pattern).matches(sw) is matches


@pytest.mark.parametrize("bad", ["900", "90000", "90G0", ""])
def test_bad_sw_patterns_are_refused(bad: str) -> None:
    with pytest.raises(QAError, match="4 hex digits"):
        SWPattern.parse(bad)


def test_sw_lists_in_any_separator() -> None:
    for text in ("(9000, 6A83)", "9000|6A83", "9000 6A83", "(9000,6A83)"):
        assert [str(p) for p in parse_sw_list(text)] == ["9000", "6A83"]
    with pytest.raises(QAError):
        parse_sw_list("()")


def test_declared_families_become_wildcards() -> None:
    assert [str(p) for p in declared_sw_patterns([0x9000, 0x63C0, 0x6100])] == \
        ["9000", "63CX", "61XX"]


@pytest.mark.parametrize(("pattern", "data", "matches"), [
    ("6F .. 9000", bytes.fromhex("6F9000"), True),
    ("6F..", bytes.fromhex("6F0102"), True),
    ("6F..", bytes.fromhex("6E0102"), False),
    ("XX XX", bytes.fromhex("ABCD"), True),
    ("XX XX", bytes.fromhex("AB"), False),
    ("0x01 0x02", bytes.fromhex("0102"), True),
    ("F0XXXX", bytes.fromhex("F01234"), True),  # 0X is a wildcard here, not a 0x prefix
    ("..84 07 ..", bytes.fromhex("6F0984070102030405060708"), True),
    ("6X", bytes.fromhex("6A"), True),
    ("", b"", True),
    ("", b"\x00", False),
])
def test_data_patterns(pattern: str, data: bytes, matches: bool) -> None:
    assert DataPattern.parse(pattern).matches(data) is matches


@pytest.mark.parametrize("bad", ["6F0", "6F ..0", "ZZ", "6F..1"])
def test_bad_data_patterns_are_refused(bad: str) -> None:
    with pytest.raises(QAError):
        DataPattern.parse(bad)


@settings(max_examples=200)
@given(data=st.binary(max_size=64), cut=st.integers(0, 64))
def test_exact_and_prefix_patterns_match(data: bytes, cut: int) -> None:
    assert DataPattern.exact(data).matches(data)
    prefix = DataPattern.parse(data[:cut].hex() + "..")
    assert prefix.matches(data)
    assert not DataPattern.exact(data).matches(data + b"\x00")
