"""ISO/IEC 7816-4 APDU codec: the case table, CLA decoding, and typed errors on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.apdu import CLA, APDUCase, CommandAPDU, ResponseAPDU, split_command
from apdu_specs.errors import APDUFormatError, HexError
from apdu_specs.hexutil import parse_hex, to_hex


@pytest.mark.parametrize(("hexstr", "case", "lc", "ne"), [
    ("00A40400", APDUCase.CASE_1, 0, None),
    ("00B0000000", APDUCase.CASE_2S, 0, 256),
    ("00B0000010", APDUCase.CASE_2S, 0, 16),
    ("00DA00010101", APDUCase.CASE_3S, 1, None),
    ("00A4040002A00000", APDUCase.CASE_4S, 2, 256),
    ("00B00000000000", APDUCase.CASE_2E, 0, 65536),
    ("00B00000000100", APDUCase.CASE_2E, 0, 256),
    ("00DA0001000001AA", APDUCase.CASE_3E, 1, None),
    ("00DA0001000001AA0200", APDUCase.CASE_4E, 1, 512),
])
def test_case_table(hexstr, case, lc, ne):
    apdu = CommandAPDU.parse(parse_hex(hexstr))
    assert apdu.case is case
    assert len(apdu.data) == lc
    assert apdu.ne == ne
    assert apdu.encode() == parse_hex(hexstr)


@pytest.mark.parametrize(("hexstr", "fragment"), [
    ("", "too short"),
    ("00A404", "too short"),
    ("00A4040005A000", "announces 5"),
    ("00A4040001A0000000", "announces 1"),
    ("00DA0001000002AA", "announces 2"),
    ("00DA00010000000000", "0000 is invalid"),
])
def test_malformed_commands_raise_typed_errors(hexstr, fragment):
    with pytest.raises(APDUFormatError, match=fragment):
        CommandAPDU.parse(parse_hex(hexstr))


commands = st.builds(
    CommandAPDU,
    cla=st.integers(0, 0xFE), ins=st.integers(0, 0xFF), p1=st.integers(0, 0xFF),
    p2=st.integers(0, 0xFF), data=st.binary(max_size=300),
    ne=st.none() | st.integers(1, 65536), extended=st.booleans(),
)


@given(commands)
def test_command_round_trip(apdu):
    again = CommandAPDU.parse(apdu.encode())
    assert (again.header, again.data, again.ne) == (apdu.header, apdu.data, apdu.ne)
    assert again.is_extended == apdu.is_extended


@given(st.binary(max_size=400))
def test_random_bytes_parse_or_raise_typed_error(raw):
    try:
        apdu = CommandAPDU.parse(raw)
    except APDUFormatError:
        return
    assert apdu.encode() == raw or apdu.ne in (256, 65536)


@given(commands, st.integers(1, 10))
def test_truncation_is_detected(apdu, cut):
    raw = apdu.encode()
    if len(raw) - cut < 4:
        return
    try:
        again = CommandAPDU.parse(raw[:-cut])
    except APDUFormatError:
        return
    assert again.encode() != raw


@given(st.binary(max_size=300), st.integers(0, 0xFFFF))
def test_response_round_trip(data, sw):
    r = ResponseAPDU(data, sw)
    assert ResponseAPDU.parse(r.encode()) == r


def test_response_without_sw_is_an_error():
    with pytest.raises(APDUFormatError, match="no status word"):
        ResponseAPDU.parse(b"\x90")


@pytest.mark.parametrize(("cla", "channel", "sm", "chaining", "proprietary"), [
    (0x00, 0, False, False, False),
    (0x03, 3, False, False, False),
    (0x0C, 0, True, False, False),
    (0x10, 0, False, True, False),
    (0x80, 0, False, False, True),
    (0x84, 0, True, False, True),
    (0x81, 1, False, False, True),
    (0x40, 4, False, False, False),
    (0x4F, 19, False, False, False),
    (0x60, 4, True, False, False),
    (0xC1, 5, False, False, True),
])
def test_cla_decoding(cla, channel, sm, chaining, proprietary):
    info = CLA.decode(cla)
    assert (info.channel, info.secure_messaging, info.chaining, info.proprietary) == (
        channel, sm, chaining, proprietary)


@given(st.integers(0, 19), st.booleans(), st.booleans(), st.booleans())
def test_cla_encode_decode(channel, sm, chaining, proprietary):
    if (channel, sm, chaining, proprietary) == (19, True, True, True):
        with pytest.raises(APDUFormatError):  # would be CLA FF
            CLA.encode(channel=19, secure_messaging=True, chaining=True, proprietary=True)
        return
    cla = CLA.encode(channel=channel, secure_messaging=sm, chaining=chaining,
                     proprietary=proprietary)
    info = CLA.decode(cla)
    assert (info.channel, info.secure_messaging, info.chaining, info.proprietary) == (
        channel, sm, chaining, proprietary)


def test_cla_ff_is_invalid():
    with pytest.raises(APDUFormatError):
        CLA.decode(0xFF)


@pytest.mark.parametrize("text", ["00A40400", "00 a4 04 00", "0x00 0xA4 0x04 0x00",
                                  "[00, A4, 04, 00]", "00:A4:04:00"])
def test_hex_notations(text):
    assert parse_hex(text) == b"\x00\xa4\x04\x00"


@pytest.mark.parametrize(("text", "fragment"), [("00A", "odd"), ("00ZZ", "'Z'")])
def test_bad_hex(text, fragment):
    with pytest.raises(HexError, match=fragment):
        parse_hex(text, what="APDU")


@given(st.binary(max_size=64))
def test_hex_round_trip(data):
    assert parse_hex(to_hex(data, " ")) == data


# --- the lenient mode (traces show whatever was sent) ---------------------------------------

@pytest.mark.parametrize(("hex_apdu", "lc", "data", "le", "extended", "ne"), [
    ("00A40400", "", "", "", False, None),                             # case 1
    ("00B0000000", "", "", "00", False, 256),                          # case 2S, Le 00 = 256
    ("00A4040002AABB", "02", "AABB", "", False, None),                 # case 3S
    ("00A4040002AABB10", "02", "AABB", "10", False, 16),               # case 4S
    ("00B00000000000", "", "", "000000", True, 65536),                 # case 2E: Le is 3 bytes
    ("00A40400000002AABB", "000002", "AABB", "", True, None),          # case 3E
    ("00A40400000002AABB0100", "000002", "AABB", "0100", True, 256),   # case 4E
])
def test_lenient_split_of_each_case(hex_apdu, lc, data, le, extended, ne):
    parts = split_command(bytes.fromhex(hex_apdu))
    assert parts.well_formed and parts.problem is None
    assert (to_hex(parts.lc), to_hex(parts.data), to_hex(parts.le)) == (lc, data, le)
    assert (parts.extended, parts.ne) == (extended, ne)


@pytest.mark.parametrize(("hex_apdu", "fragment"), [
    ("", "too short"), ("00", "too short"), ("00A404", "too short"),
    ("00A4040003AA", "announces 3"), ("00A4040000AA", "Lc of 00"),
    ("00A40400000005AA", "announces 5"),
])
def test_lenient_split_names_the_problem_instead_of_raising(hex_apdu, fragment):
    raw = bytes.fromhex(hex_apdu)
    parts = split_command(raw)
    assert not parts.well_formed and fragment in (parts.problem or "")
    assert (parts.header, parts.data) == (raw[:4], raw[4:])


@given(st.binary(max_size=400))
def test_lenient_split_handles_any_bytes_as_the_strict_parser_judges_them(raw):
    parts = split_command(raw)
    assert parts.encode() == raw
    try:
        apdu = CommandAPDU.parse(raw)
    except APDUFormatError as exc:
        assert parts.problem == str(exc)
        return
    assert parts.well_formed
    assert (parts.header, parts.data, parts.ne, parts.extended) == (
        apdu.header, apdu.data, apdu.ne, apdu.extended)


@given(commands)
def test_a_built_command_splits_into_its_fields(apdu):
    parts = split_command(apdu.encode())
    assert (parts.header, parts.data, parts.ne) == (apdu.header, apdu.data, apdu.ne)
    assert parts.extended == apdu.is_extended
