"""BER-TLV and DOL codec, with EMV's tolerated padding."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.errors import TLVError
from apdu_specs.tags import tag_name
from apdu_specs.tlv import (
    TLV,
    build_dol_data,
    encode_dol,
    encode_tlvs,
    find,
    parse_dol,
    parse_tlvs,
    split_dol_data,
)


def test_fci_parses_nested():
    fci = bytes.fromhex("6F1A840E315041592E5359532E4444463031A5088801015F2D02656E")
    (top,) = parse_tlvs(fci)
    assert top.tag == 0x6F and top.constructed
    assert find([top], 0x84).value == b"1PAY.SYS.DDF01"
    assert find([top], 0x88).value == b"\x01"
    assert find([top], 0x5F2D).value == b"en"
    assert top.encode() == fci


def test_padding_between_objects_is_skipped():
    assert [t.tag for t in parse_tlvs(bytes.fromhex("00FF9F360200010000"))] == [0x9F36]


def test_long_form_lengths():
    obj = TLV.build(0x70, bytes(200))
    assert obj.encode()[:3] == bytes.fromhex("7081C8")
    # non-minimal long form is accepted on input
    assert parse_tlvs(bytes.fromhex("5A820002AABB"))[0].value == bytes.fromhex("AABB")


@pytest.mark.parametrize(("hexstr", "fragment"), [
    ("9F", "truncated"), ("5A05AABB", "announces 5"), ("5A80", "indefinite"),
    ("5A", "length expected"), ("5A85000000000001", "not supported"),
])
def test_malformed(hexstr, fragment):
    with pytest.raises(TLVError, match=fragment):
        parse_tlvs(bytes.fromhex(hexstr))


def test_dol_parse_build_split():
    cdol = bytes.fromhex("9F02069F03069F1A0295055F2A029A039C019F3704")
    dol = parse_dol(cdol)
    assert dol[0] == (0x9F02, 6) and len(dol) == 8
    assert encode_dol(dol) == cdol
    data = build_dol_data(dol, {0x9F02: bytes.fromhex("000000001000"), 0x9C: b"\x00"})
    assert len(data) == 29
    assert split_dol_data(dol, data)[0x9F02] == bytes.fromhex("000000001000")
    with pytest.raises(TLVError):
        split_dol_data(dol, data[:-1])


def test_dol_fitting_rules():
    dol = [(0x9F02, 6), (0x50, 4)]
    out = build_dol_data(dol, {0x9F02: bytes.fromhex("1234"), 0x50: b"ABCDEFG"},
                         numeric_tags={0x9F02})
    assert out == bytes.fromhex("000000001234") + b"ABCD"


def test_tag_names():
    assert tag_name(0x9F36) == "Application transaction counter"
    assert "unknown" in tag_name(0x9F99)


primitive_tags = st.sampled_from([0x5A, 0x57, 0x9F36, 0x9F26, 0x82, 0x84, 0xDF01, 0x5F2D])
primitives = st.builds(lambda t, v: TLV.build(t, v), primitive_tags, st.binary(max_size=300))
tlv_trees = st.recursive(
    primitives,
    lambda kids: st.builds(lambda t, ks: TLV.build(t, ks),
                           st.sampled_from([0x70, 0x77, 0x6F, 0xA5, 0xE3]),
                           st.lists(kids, max_size=4)),
    max_leaves=12,
)


@given(st.lists(tlv_trees, max_size=5))
def test_tlv_round_trip(objs):
    raw = encode_tlvs(objs)
    assert parse_tlvs(raw) == objs
    assert encode_tlvs(parse_tlvs(raw)) == raw


@given(st.binary(max_size=200))
def test_random_bytes_parse_or_raise_tlv_error(raw):
    with contextlib.suppress(TLVError):
        parse_tlvs(raw)
