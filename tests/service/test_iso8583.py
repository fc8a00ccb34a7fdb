"""The alliance's ISO 8583 dialect, its MAC and its mapping of the link's requests, without
a socket: what is encoded decodes to the same fields, every byte is covered by the MAC,
and a request survives the trip to the wire and back."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.payment.script import IssuerScript
from apdu_specs.tlv import TLV, encode_tlvs
from host.payment.issuer import AuthorisationRequest, AuthorisationResponse, Decision
from host.payment.perso import CDOL1
from host.pos.link import PaymentMethod
from host.service import iso8583
from host.service.errors import ISOFramingError, MessageFormatError, ServiceConfigurationError
from host.service.iso8583 import (
    FIELDS,
    MAX_MESSAGE,
    MTI,
    SPEC,
    ResponseCode,
    decode,
    encode,
    frame,
    frame_length,
    is_request_mti,
    render,
    response_mti,
)
from host.service.mac import (
    key_check_value,
    mac_field,
    read_key_file,
    sign,
    verify,
    write_key_file,
)
from host.service.messages import (
    Envelope,
    UnsupportedRequestError,
    authorisation_answer,
    authorisation_call,
    authorisation_request,
    parse_transmission_time,
    transmission_time,
)

pytestmark = pytest.mark.unit

KEY = bytes(range(16))
SENT = dt.datetime(2025, 6, 18, 1, 30, 5, tzinfo=dt.UTC)
ENVELOPE = Envelope("0000000A0001", "shop-a", 17, SENT)
CDOL1_DATA = bytes.fromhex("000000012345" "000000000000" "0156" "0000000000" "0156" "250618"
                           "00" "1A2B3C4D")
REQUEST = AuthorisationRequest("6200000000000005", "00", 7, bytes.fromhex("1122334455667788"),
                               CDOL1_DATA, bytes.fromhex("3900"),
                               bytes.fromhex("06011203A00000"), 123_45, 156)

_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1)


def _value(key: str) -> st.SearchStrategy[object]:
    spec = next(f for f in FIELDS if f.key == key)
    size = {"min_size": spec.length if spec.prefix == 0 else 1, "max_size": spec.length}
    if spec.kind == "b":
        return st.binary(**size)
    if spec.kind == "n":
        return st.text("0123456789", **size)
    return st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), **size)


_MESSAGES = st.fixed_dictionaries(
    {"t": st.sampled_from(list(MTI))},
    optional={f.key: _value(f.key) for f in FIELDS if f.key not in ("t", "p", "1")})


@given(_MESSAGES)
def test_every_message_of_the_dialect_decodes_to_what_was_encoded(message: dict) -> None:
    decoded = decode(encode(message))
    assert {k: v for k, v in decoded.items() if k not in ("p", "1")} == message


@given(_MESSAGES)
def test_the_direct_layout_encodes_and_decodes_as_pyiso8583_does(message: dict) -> None:
    raw = encode(message)
    assert raw == iso8583._encode_pyiso(message)
    assert decode(raw) == iso8583._decode_pyiso(raw)
    primary_only = all(key == "t" or int(key) <= 64 for key in message)
    assert (iso8583._decode_plain(raw) is not None) == primary_only
    assert (iso8583._encode_plain(message) is not None) == primary_only


def _answer_or_refusal(codec: Callable[[Any], Any], given: Any) -> object:
    try:
        return codec(given)
    except MessageFormatError as exc:
        return ("refused", str(exc))


@given(_MESSAGES, st.data())
def test_a_damaged_message_is_read_or_refused_as_pyiso8583_reads_or_refuses_it(
    message: dict, data: st.DataObject
) -> None:
    raw = bytearray(encode(message))
    at = data.draw(st.integers(0, len(raw)))
    damage = data.draw(st.sampled_from(["cut", "byte", "extra"]))
    if damage == "cut":
        del raw[at:]
    elif damage == "byte" and at < len(raw):
        raw[at] = data.draw(st.integers(0, 255))
    else:
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=3))
    assert _answer_or_refusal(decode, bytes(raw)) == _answer_or_refusal(
        iso8583._decode_pyiso, bytes(raw))


@given(_MESSAGES, st.data())
def test_a_wrong_value_is_refused_by_the_name_pyiso8583_gives(
    message: dict, data: st.DataObject
) -> None:
    key = data.draw(st.sampled_from(sorted(message)))
    message[key] = data.draw(st.one_of(st.text(max_size=70), st.binary(max_size=70),
                                       st.integers()))
    assert _answer_or_refusal(encode, message) == _answer_or_refusal(
        iso8583._encode_pyiso, message)


def test_the_spec_is_built_from_the_field_table() -> None:
    assert SPEC["55"] == {"data_enc": "b", "len_enc": "ascii", "len_type": 3, "max_len": 999,
                          "desc": "ICC data (EMV BER-TLV)"}
    assert SPEC["41"]["max_len"] == 12 and SPEC["42"]["len_type"] == 2
    assert SPEC["h"]["max_len"] == 0  # no header


@pytest.mark.parametrize(("field", "value", "why"), [
    ("4", "12.34", "decimal digits"), ("41", "TERM\x00INAL00", "printable ASCII"),
    ("55", "9F2608", "bytes"), ("99", "x", "not in the alliance's dialect")])
def test_values_outside_the_dialect_are_refused_by_name(field: str, value: object,
                                                        why: str) -> None:
    with pytest.raises(MessageFormatError, match=why):
        encode({"t": "0800", field: value})


def test_a_numeric_field_carrying_letters_does_not_decode() -> None:
    raw = encode({"t": "0800", "11": "000017"}).replace(b"000017", b"00001A")
    with pytest.raises(MessageFormatError, match="DE 11"):
        decode(raw)


def test_frames_carry_a_two_byte_big_endian_length() -> None:
    assert frame(b"0800abc") == b"\x00\x070800abc"
    assert frame_length(b"\x01\x00") == 256
    for prefix in (b"\x00\x00", (MAX_MESSAGE + 1).to_bytes(2, "big"), b"\x05"):
        with pytest.raises(ISOFramingError):
            frame_length(prefix)
    with pytest.raises(ISOFramingError):
        frame(b"")


def test_request_and_response_types() -> None:
    assert [response_mti(m) for m in ("0100", "0101", "0800")] == ["0110", "0110", "0810"]
    assert all(is_request_mti(m) for m in (b"0100", b"0800", b"0420", "0200"))
    assert not any(is_request_mti(m) for m in (b"0110", b"1100", b"01", b"\xff\xff\xff\xff"))


# -- the MAC --------------------------------------------------------------------------------


def test_the_mac_goes_last_in_de_64_or_de_128() -> None:
    assert mac_field({"t": "0100", "55": b"x"}) == "64"
    assert mac_field({"t": "0800", "70": "301"}) == "128"
    network = decode(sign({"t": "0800", "70": "301", **ENVELOPE.fields()}, KEY))
    assert "128" in network and "64" not in network


@given(st.data())
def test_every_byte_of_a_message_is_covered_by_its_mac(data: st.DataObject) -> None:
    raw = sign({"t": "0100", "4": "000000012345", **ENVELOPE.fields()}, KEY)
    assert verify(raw, decode(raw), KEY)
    at = data.draw(st.integers(0, len(raw) - 1))
    flipped = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1:]
    with contextlib.suppress(MessageFormatError):  # unless the change broke the message itself
        assert not verify(flipped, decode(flipped), KEY)


def test_another_key_does_not_verify_and_a_missing_mac_is_a_format_error() -> None:
    raw = sign({"t": "0800", "70": "301", **ENVELOPE.fields()}, KEY)
    assert not verify(raw, decode(raw), bytes(16))
    unsigned = encode({"t": "0800", "70": "301", **ENVELOPE.fields()})
    with pytest.raises(MessageFormatError, match="DE 128"):
        verify(unsigned, decode(unsigned), KEY)


def test_a_key_is_shown_by_its_check_value_and_its_file_is_written_once(tmp_path) -> None:
    assert key_check_value(KEY) == key_check_value(bytes(KEY))
    assert len(key_check_value(KEY)) == 6 and key_check_value(KEY) != key_check_value(bytes(16))
    path = tmp_path / "terminal.key"
    write_key_file(path, terminal_id="0000000A0001", key=KEY)
    assert read_key_file(path) == ("0000000A0001", KEY)
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(ServiceConfigurationError, match="never overwritten"):
        write_key_file(path, terminal_id="0000000A0001", key=KEY)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "kcv": "000000"}))
    with pytest.raises(ServiceConfigurationError, match="KCV"):
        read_key_file(path)


# -- DE 7 -----------------------------------------------------------------------------------


def test_transmission_time_is_utc_and_read_in_the_nearest_year() -> None:
    assert transmission_time(SENT.astimezone(dt.timezone(dt.timedelta(hours=8)))) == "0618013005"
    new_year = dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=dt.UTC)
    assert parse_transmission_time("1231235959", new_year).year == 2025
    assert parse_transmission_time("0101000000", new_year).year == 2026
    leap = dt.datetime(2028, 3, 1, tzinfo=dt.UTC)
    assert parse_transmission_time("0229120000", leap) == dt.datetime(2028, 2, 29, 12,
                                                                       tzinfo=dt.UTC)
    for bad in ("1332000000", "0618256000", "0229120000"):  # no 29 February near 2026
        with pytest.raises(MessageFormatError, match="DE 7"):
            parse_transmission_time(bad, new_year)


# -- authorisation --------------------------------------------------------------------------


def test_an_authorisation_request_goes_to_the_wire_and_back() -> None:
    message = authorisation_request(REQUEST, card_id="6200001234567890",
                                    method=PaymentMethod.CREDIT, envelope=ENVELOPE, cdol1=CDOL1)
    wire = decode(sign(message, KEY))
    assert (wire["3"], wire["4"], wire["23"], wire["49"]) == ("003000", "000000012345", "000",
                                                              "156")
    call = authorisation_call(wire, CDOL1)
    assert call.request == REQUEST and call.card_id == "6200001234567890"
    assert call.method is PaymentMethod.CREDIT
    lines = render(wire).splitlines()
    assert any(line.split()[:3] == ["9F26", "Application", "cryptogram"] for line in lines)
    assert len(lines) == 13 + 12  # the fields, and DE 55 one line per data object


def test_the_cdol1_data_is_rebuilt_in_the_issuers_order_whatever_the_terminal_sends() -> None:
    message = authorisation_request(REQUEST, card_id="c", method=PaymentMethod.DEBIT,
                                    envelope=ENVELOPE, cdol1=CDOL1)
    objects = list(reversed(_tlvs(message["55"])))
    shuffled = {**message, "55": encode_tlvs(objects)}
    assert authorisation_call(shuffled, CDOL1).request.cdol1_data == CDOL1_DATA


def _tlvs(data: bytes) -> list[TLV]:
    from apdu_specs.tlv import parse_tlvs
    return parse_tlvs(data)


@pytest.mark.parametrize(("change", "error", "match"), [
    (lambda m: {**m, "3": "010000"}, UnsupportedRequestError, "processing code"),
    (lambda m: {**m, "23": "100"}, MessageFormatError, "DE 23"),
    (lambda m: {k: v for k, v in m.items() if k != "62"}, MessageFormatError, "DE 62"),
    (lambda m: {**m, "55": b"\x9F\x26"}, MessageFormatError, "BER-TLV"),
    (lambda m: {**m, "55": m["55"] + TLV(0x9F26, bytes(8)).encode()}, MessageFormatError,
     "twice"),
    (lambda m: {**m, "55": encode_tlvs([t for t in _tlvs(m["55"]) if t.tag != 0x9F37])},
     MessageFormatError, "lacks tag 9F37"),
    (lambda m: {**m, "55": encode_tlvs([TLV(t.tag, t.value + b"\x00") if t.tag == 0x9F02 else t
                                        for t in _tlvs(m["55"])])},
     MessageFormatError, "9F02 has 7 bytes"),
])
def test_a_request_that_breaks_the_mapping_is_refused_by_name(change, error, match) -> None:
    message = authorisation_request(REQUEST, card_id="c", method=PaymentMethod.DEBIT,
                                    envelope=ENVELOPE, cdol1=CDOL1)
    with pytest.raises(error, match=match):
        authorisation_call(change(message), CDOL1)


def test_the_answer_carries_the_arc_the_arpc_and_the_scripts() -> None:
    request = authorisation_request(REQUEST, card_id="c", method=PaymentMethod.DEBIT,
                                    envelope=ENVELOPE, cdol1=CDOL1)
    script = IssuerScript((bytes.fromhex("04DA9F580A0102030405060708"),), 0x72)
    response = AuthorisationResponse(Decision.REFERRAL, b"01", bytes.fromhex("D50B064100800000"),
                                     (script,))
    reply = decode(encode(authorisation_answer(request, response)))
    assert reply["t"] == "0110" and reply["39"] == ResponseCode.REFER_TO_ISSUER
    assert (reply["11"], reply["41"], reply["4"]) == ("000017", "0000000A0001", "000000012345")
    assert "2" not in reply and "62" not in reply  # the answer does not repeat the PAN
    assert reply["55"] == bytes.fromhex("9108D50B064100800000") + script.encode()


def test_a_terminal_with_the_network_link_loads_no_ledger() -> None:
    code = ("import host.pos.network_link, sys; "
            "print(any(m.startswith(('host.backoffice','sqlalchemy')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "False"
