"""apdu_specs.documents: the one decoder of users' files, its limits and its messages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.documents import (
    MAX_DEPTH,
    DocumentError,
    check_size,
    decode_text,
    json_document,
    parse_csv,
    parse_json,
    parse_toml,
)

pytestmark = pytest.mark.unit


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=200)


@given(_JSON)
def test_json_within_the_depth_limit_parses_and_deeper_is_refused(value: object) -> None:
    """The bracket count (strings with brackets and escapes included) agrees with the real
    nesting of every document."""
    text = json.dumps(value)
    if _depth(value) <= MAX_DEPTH:
        assert parse_json(text, "doc") == value
    else:
        with pytest.raises(DocumentError, match="nested deeper than"):
            parse_json(text, "doc")


def test_nesting_is_refused_before_parsing_at_any_depth() -> None:
    for text in ("[" * 1_000_000, '{"a":' * 200_000, "[" * (MAX_DEPTH + 1)):
        with pytest.raises(DocumentError, match=f"doc:1: nested deeper than {MAX_DEPTH} levels"):
            parse_json(text, "doc")
    assert _depth(parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH, "doc")) == MAX_DEPTH
    with pytest.raises(DocumentError, match=r"^doc:3: nested"):
        parse_json('{\n"a":\n' + "[" * 100, "doc")


def test_not_utf8_names_the_byte_offset_and_line() -> None:
    with pytest.raises(DocumentError) as caught:
        decode_text(b"name\nok\nM\xdcLLER\n", "holders.csv")
    assert str(caught.value) == "holders.csv:3: not UTF-8 text: byte 0xDC at offset 9"
    with pytest.raises(DocumentError, match="UTF-16 or UTF-32"):
        decode_text("x".encode("utf-16"), "f")
    assert decode_text(b"\xef\xbb\xbfname", "f") == "name"  # a UTF-8 byte order mark is fine


@pytest.mark.parametrize("data", [b"", b" \n\t\r\n", b"\xef\xbb\xbf"])
def test_an_empty_document_is_refused_unless_allowed(data: bytes) -> None:
    with pytest.raises(DocumentError, match=r"^f: is empty$"):
        decode_text(data, "f")
    assert decode_text(data, "f", empty_ok=True).strip() == ""


def test_size_limit() -> None:
    assert check_size(b"12345", "f", 5) == b"12345"
    with pytest.raises(DocumentError, match="f: larger than 4 bytes"):
        decode_text(b"12345", "f", limit=4)


def test_json_errors_name_line_and_column_and_the_expected_type() -> None:
    with pytest.raises(DocumentError, match=r"^k\.json:2: not JSON: .*\(column 9\)$"):
        json_document(b'{"a": 1,\n "b": 2,}', "k.json")
    with pytest.raises(DocumentError, match=r"^k\.json: must be a JSON object, not a JSON array$"):
        json_document(b"[]", "k.json", expect=dict)
    with pytest.raises(DocumentError, match=r"k\.json:7: must be a JSON object, not null"):
        parse_json("null", "k.json", line=7, expect=dict)
    with pytest.raises(DocumentError, match="not usable JSON"):
        parse_json("9" * 5000, "k.json")


def test_toml_depth_and_errors() -> None:
    assert parse_toml("a.b.c = 1", "p.toml") == {"a": {"b": {"c": 1}}}
    for text in ("a = " + "[" * 5000 + "]" * 5000, "a" + ".b" * (MAX_DEPTH + 1) + " = 1"):
        with pytest.raises(DocumentError, match=f"p.toml: nested deeper than {MAX_DEPTH}"):
            parse_toml(text, "p.toml")
    with pytest.raises(DocumentError, match=r"p\.toml: not TOML: .*\(at line 2, column 5\)"):
        parse_toml("a = 1\nb = ?", "p.toml")


def test_csv_rows_keep_their_lines_and_limits_are_errors() -> None:
    table = parse_csv(' name , id \n\nA,"x\ny"\nB,z\n', "h.csv")
    assert table.header == ["name", "id"]
    assert table.rows == [(3, ["A", "x\ny"]), (5, ["B", "z"])]
    for text, message in (("", "h.csv: is empty"), ("name,id\n", "h.csv:1: has a header but no rows"),
                          ("n\nok\n" + "a" * 131_073 + "\n", "h.csv:3: a field is longer than"),
                          ('n\n"open\n', "h.csv:2: not CSV: unexpected end of data")):
        with pytest.raises(DocumentError) as caught:
            parse_csv(text, "h.csv")
        assert str(caught.value).startswith(message)
