"""Naming and decoding commands from the specs: every example, the shared INS codes, secrets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.commands import all_specs
from apdu_specs.commands.dissect import (
    Concealed,
    Dissector,
    decode_command,
    decode_response,
    identify,
    sw_meaning,
)
from apdu_specs.commands.gp_extra import encode_dgi
from apdu_specs.hexutil import parse_hex
from apdu_specs.tlv import TLV

pytestmark = pytest.mark.unit

EXAMPLES = [(s, e) for s in all_specs() for e in s.examples]


def _app(application: str) -> str | None:
    return None if application == "iso7816" else application


@pytest.mark.parametrize(("spec", "example"), EXAMPLES,
                         ids=[f"{s.key}:{e.title}" for s, e in EXAMPLES])
def test_every_example_is_named_by_its_own_spec(spec, example):
    decoded = decode_command(parse_hex(example.command), application=_app(spec.application))
    assert decoded.key == spec.key and decoded.problem is None
    if example.response is not None:
        response = decode_response(decoded, parse_hex(example.response))
        assert response.problem is None
        if example.response_fields is not None:
            assert response.fields == dict(example.response_fields)


@pytest.mark.parametrize(("apdu", "application", "key"), [
    ("8050FF0008CC848CF1ADADC14700", None, "gp:INITIALIZE UPDATE"),   # KVN FF: not a purse
    ("805000020B0100001C37000001000050", None, "purse:INITIALIZE FOR LOAD"),  # P2 = purse
    ("805001010B0100000064000001000050", "purse", "purse:INITIALIZE FOR PURCHASE"),
    ("80500000080102030405060708", "purse", "gp:INITIALIZE UPDATE"),  # P2 00 is no purse
    ("04DADF100C000186A080D616DAC7B22EFD", "purse", "payment:PUT DATA (ISSUER SCRIPT)"),
    ("00DADF10040007A120", "payment", "iso7816:PUT DATA"),
    ("00B2010C00", "payment", "iso7816:READ RECORD"),
    ("00B201CC20", "purse", "purse:READ RECORD"),
    ("00B2011400", "purse", "iso7816:READ RECORD"),  # P2 names no purse log
    ("0020000004123456FF", "purse", "purse:VERIFY"),
    ("0020008008241234FFFFFFFFFF", "payment", "iso7816:VERIFY"),
])
def test_shared_ins_codes_are_told_apart(apdu, application, key):
    assert decode_command(parse_hex(apdu), application=application).key == key


def test_the_dissector_follows_select():
    dissector = Dissector()
    select = dissector.command(parse_hex("00A4040007F000000002010100"))
    dissector.response(select, parse_hex("6F098407F00000000201019000"))
    assert dissector.application == "purse"
    assert dissector.command(parse_hex("00B201CC20")).key == "purse:READ RECORD"
    failed = dissector.command(parse_hex("00A4040007F000000001010100"))
    dissector.response(failed, parse_hex("6A82"))
    assert dissector.application == "purse"  # a refused SELECT changes nothing
    dissector.answered(parse_hex("00A4040007F000000001010100"), parse_hex("9000"))
    assert dissector.application == "payment" and dissector.name(
        parse_hex("00B2011400")) == "READ RECORD"


def test_fields_and_meanings():
    decoded = decode_command(parse_hex("80F24002024F0000"))
    assert decoded.name == "GET STATUS"
    assert decoded.fields == {"subset": 0x40, "format": 0x02,
                              "data": {"criteria": b"\x4f\x00"}, "ne": 256}
    assert decoded.meanings == {"subset": "applications and SSDs", "format": "TLV (E3), first"}
    response = decode_response(decoded, parse_hex("E3094F07F000000001020100") + b"\x63\x10")
    assert (response.meaning, response.detail) == (
        "more data available (repeat with P2 'next occurrence')", "more data: repeat with P2 next")
    assert response.fields[0]["name"] == "GP registry entry"
    assert response.fields[0]["value"][0] == {
        "tag": "4F", "name": "Application identifier (ADF name)",
        "value": parse_hex("F0000000010201")}


def test_status_words_parametrised_by_the_spec():
    verify = identify(0x00, 0x20, 0x00, 0x80)
    assert sw_meaning(0x63C2, verify) == ("verification failed, 2 tries left",
                                          "63Cx: wrong PIN, x tries left")
    get_response = identify(0x00, 0xC0, 0x00, 0x00)
    assert sw_meaning(0x6110, get_response)[1] == "61xx: more bytes remain"
    assert sw_meaning(0x6A82) == ("file or application not found", "")


def test_secrets_are_concealed():
    pin = decode_command(parse_hex("0020008008241234FFFFFFFFFF"))
    assert pin.fields["data"] == {"pin_block": Concealed("PIN", 8)}
    put_key = decode_command(parse_hex("80D8008118308811100000000000000000000000000000000003"
                                       "AABBCC00"))
    (entry,) = put_key.fields["data"]["keys"]
    assert entry["key"] == Concealed("key encrypted under the DEK", 17)
    assert entry["kcv"] == parse_hex("AABBCC")
    encrypted = decode_command(parse_hex("80E2E800") + bytes([3 + 16]) + encode_dgi(0x8000,
                                                                                   bytes(16)))
    assert encrypted.fields["data"]["dgis"] == [
        {"dgi": "8000", "value": Concealed("encrypted under the DEK", 16)}]
    script = decode_command(parse_hex("84240002181B2943BED3D298F9C75848D17317CD1D25B70F7E"
                                      "26613E5F"), application="payment")
    assert script.fields["data"] == {
        "enciphered_pin_block": Concealed("enciphered PIN block", 16),
        "mac": parse_hex("25B70F7E26613E5F")}


def test_a_dgi_may_continue_in_the_next_block():
    record = encode_dgi(0x0101, parse_hex("7003") + b"\x5a\x01\x99")
    dissector = Dissector()
    first = dissector.command(parse_hex("80E20800") + bytes([4]) + record[:4])
    assert first.fields["data"]["dgis"] == [] and "continued" in first.fields["data"]
    second = dissector.command(parse_hex("80E28801") + bytes([len(record) - 4]) + record[4:])
    assert second.fields["data"]["dgis"] == [{"dgi": "0101", "value": [
        {"tag": "70", "name": "Record template", "value": [
            {"tag": "5A", "name": "Application PAN", "value": b"\x99"}]}]}]


def test_dol_values_are_named():
    aid = parse_hex("F0000000010101")
    fci = TLV.build(0x6F, [TLV.build(0x84, aid),
                           TLV.build(0xA5, [TLV.build(0x9F38, parse_hex("9F1A02"))])]).encode()
    record = TLV.build(0x70, [TLV.build(0x8C, parse_hex("9A03")),
                              TLV.build(0x8D, parse_hex("8A02"))]).encode()
    dissector = Dissector()
    for command, answer in ((b"\x00\xa4\x04\x00\x07" + aid + b"\x00", fci),
                            (parse_hex("00B2020C00"), record)):
        dissector.response(dissector.command(command), answer + b"\x90\x00")
    gpo = dissector.command(parse_hex("80A800000483020156"))
    first = dissector.command(parse_hex("80AE800003250618"))
    second = dissector.command(parse_hex("80AE4000023030"))
    assert gpo.fields["data"]["pdol_data"] == [
        {"tag": "9F1A", "name": "Terminal country code", "value": parse_hex("0156")}]
    assert first.fields["data"]["cdol_data"] == [
        {"tag": "9A", "name": "Transaction date", "value": parse_hex("250618")}]
    assert second.fields["data"]["cdol_data"] == [
        {"tag": "8A", "name": "Authorisation response code", "value": b"00"}]
    odd = dissector.command(parse_hex("80AE40000130"))  # fits no DOL: shown as it came
    assert odd.fields["data"]["cdol_data"] == b"0"


@given(st.binary(max_size=300), st.sampled_from([None, "gp", "payment", "purse"]))
def test_any_bytes_are_decoded_without_raising(raw, application):
    decoded = decode_command(raw, application=application)
    assert decoded.name and decoded.parts.encode() == raw
    decode_response(decoded, raw)
    assert Dissector().name(raw) == decode_command(raw).name  # what a live trace line shows


def test_get_response_completes_the_answer_61xx_announced():
    dissector = Dissector()
    load = dissector.command(parse_hex("805000020B0100001C37000001000050"))
    assert dissector.response(load, parse_hex("6110")).meaning == (
        "16 more response bytes available (GET RESPONSE)")
    first = dissector.response(dissector.command(parse_hex("00C0000010")),
                               parse_hex("00000000000001006108"))
    assert first.completes == "INITIALIZE FOR LOAD"
    last = dissector.response(dissector.command(parse_hex("00C0000008")),
                              parse_hex("CDEF4F2006B1BEF59000"))
    assert last.completes == "INITIALIZE FOR LOAD"
    assert last.fields == {"balance": 0, "online_seq": 0, "key_version": 1, "algorithm_id": 0,
                           "random": parse_hex("CDEF4F20"), "mac1": parse_hex("06B1BEF5")}
    alone = dissector.response(dissector.command(parse_hex("00C0000008")), parse_hex("6985"))
    assert not alone.completes  # nothing was pending
