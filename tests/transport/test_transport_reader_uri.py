"""Reader addresses: pcsc:SELECTOR, sim:IMAGE, bare reader names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host.transport.base import ReaderSpecError
from host.transport.reader_uri import (
    PCSCAddress,
    SimAddress,
    format_reader_uri,
    parse_reader_uri,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("pcsc:Virtual PCD 00 00", PCSCAddress("Virtual PCD 00 00")),
        ("pcsc:Virtual PCD", PCSCAddress("Virtual PCD")),
        ("PCSC:#1", PCSCAddress("#1")),
        ("pcsc:", PCSCAddress("")),
        ("pcsc:re:^SCM", PCSCAddress("re:^SCM")),
        ("sim", SimAddress()),
        ("sim:", SimAddress()),
        ("sim:cards/alice.json", SimAddress("cards/alice.json")),
        ("  sim:/tmp/card with space.json ", SimAddress("/tmp/card with space.json")),
        ("Virtual PCD 00 01", PCSCAddress("Virtual PCD 00 01")),
        ("re:Virtual", PCSCAddress("re:Virtual")),
        ("#0", PCSCAddress("#0")),
    ],
)
def test_parse(text: str, address: PCSCAddress | SimAddress) -> None:
    assert parse_reader_uri(text) == address


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_address_is_rejected(text: str) -> None:
    with pytest.raises(ReaderSpecError, match="empty reader address"):
        parse_reader_uri(text)


names = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1,
                max_size=30)


@settings(max_examples=100)
@given(address=st.one_of(st.builds(PCSCAddress, st.one_of(st.just(""), names)),
                         st.builds(SimAddress, st.one_of(st.none(), names))))
def test_format_then_parse_round_trips(address: PCSCAddress | SimAddress) -> None:
    assert parse_reader_uri(format_reader_uri(address)) == address
