"""ISO/IEC 7816-4 APDU codec: the case table, CLA decoding, and typed errors on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.apdu import CLA, APDUCase, CommandAPDU, ResponseAPDU
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
