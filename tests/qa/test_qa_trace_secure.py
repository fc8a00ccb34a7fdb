"""Secure messaging in traces: sessions opened by the crypto package's two ends, traced,
then decoded with and without the keys (SCP03 at every level up to R-ENC, SCP02)."""

from __future__ import annotations

import pytest

from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.crypto.scp02 import SCP02CardHandshake, SCP02HostHandshake
from apdu_specs.crypto.scp03 import CardHandshake, HostHandshake
from apdu_specs.hexutil import parse_hex
from host.gp.keyspec import parse_key_spec
from host.qa.trace import DecodedExchange, decode_trace, read_trace_lines
from host.transport.trace import DEFAULT_REDACTOR, Tracer, TraceRecord, format_human, format_json
from tests.unit.crypto.scp_helpers import card_verifies

pytestmark = pytest.mark.unit

KDD = bytes.fromhex("D0C100010C89E5F40001")
ISD = bytes.fromhex("A000000151000000")
DEFAULT = parse_key_spec("default")
OTHER = parse_key_spec("K", env={"K": "11" * 16})
SELECT_ISD = b"\x00\xa4\x04\x00\x08" + ISD + b"\x00"
GET_STATUS = parse_hex("80F24002024F0000")
REGISTRY = parse_hex("E30D4F07F00000000102019F700107")
SET_STATUS = parse_hex("80F0800F")
PUT_KEY = parse_hex("80D8008118308811100000000000000000000000000000000003AABBCC00")


def _scp03(level: int, commands: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The exchanges of SELECT, the handshake and ``commands`` (plain command, plain answer)
    protected at ``level``, as a card and a host would have sent them."""
    static = DEFAULT.card_keys(KDD, Algorithm.AES)
    host = HostHandshake(static, kvn=0x30, host_challenge=bytes(range(8)))
    card = CardHandshake(static, kdd=KDD, kvn=0x30, sequence_counter=1, sd_aid=ISD,
                         i_parameter=0x70, card_challenge=bytes(range(8, 16)))
    answer = card.respond_initialize_update(host.host_challenge) + b"\x90\x00"
    host.process_initialize_update_response(answer[:-2])
    authenticate, host_session = host.external_authenticate(level)
    card_session = card_verifies(card, authenticate)
    out = [(SELECT_ISD, b"\x90\x00"), (host.initialize_update_command(), answer),
           (authenticate, b"\x90\x00")]
    for command, response in commands:
        wrapped = host_session.wrap_command(command)
        card_session.unwrap_command(wrapped)
        protected = card_session.wrap_response(response)
        host_session.unwrap_response(protected)
        out.append((wrapped, protected))
    return out


def _decoded(exchanges: list[tuple[bytes, bytes]], keys=(), *, fmt=format_human,
             redact=None) -> list[DecodedExchange]:
    records: list[TraceRecord] = []
    tracer = Tracer(records.append, chip="chip1", redact=redact)
    for command, response in exchanges:
        tracer.exchange(command, response, ts=0.0, dur_ms=0.1)
    lines = read_trace_lines([fmt(r) for r in records])
    return [e for e in decode_trace(lines, keys) if isinstance(e, DecodedExchange)]


@pytest.mark.parametrize("fmt", [format_human, format_json])
def test_scp03_with_r_mac_and_r_enc_is_undone_with_the_keys(fmt) -> None:
    _, update, authenticate, status = _decoded(
        _scp03(0x33, [(GET_STATUS, REGISTRY + b"\x90\x00")]), [OTHER, DEFAULT], fmt=fmt)
    assert "card cryptogram verified with keys default (card keys KCV " in update.note
    assert authenticate.note == ("host cryptogram and C-MAC verified; SCP03 session open at "
                                 "C-MAC + C-DECRYPTION + R-MAC + R-ENCRYPTION")
    assert status.command.name == "GET STATUS" and status.command.fields["subset"] == 0x40
    assert status.protection is not None and status.protection.note == (
        "C-MAC verified, data decrypted")
    assert status.response_protection is not None
    assert status.response_protection.note == "R-MAC verified, data decrypted"
    assert status.response is not None and status.response.fields[0]["name"] == "GP registry entry"


def test_without_the_keys_the_data_is_shown_as_sent() -> None:
    exchanges = _scp03(0x13, [(GET_STATUS, REGISTRY + b"\x90\x00")])
    update, authenticate, status = _decoded(exchanges)[1:]
    assert update.note == "SCP03, S8, key version 30"
    assert authenticate.note == "SCP03 session open at C-MAC + C-DECRYPTION + R-MAC"
    protection = status.protection
    assert protection is not None and protection.note == "wrapped (no keys given)"
    sent = exchanges[-1][0]
    assert protection.body + protection.mac == sent[5:-1] and len(protection.mac) == 8
    assert status.command.fields == {"subset": 0x40, "format": 0x02, "ne": 256}
    assert status.response_protection is not None and len(status.response_protection.mac) == 8
    wrong = _decoded(exchanges, [OTHER])[1]
    assert wrong.note.endswith("the card cryptogram matches none of the given keys")


def test_a_redacted_command_loses_the_mac_chain() -> None:
    exchanges = _scp03(0x03, [(PUT_KEY, b"\x30\xaa\xbb\xcc\x90\x00"), (SET_STATUS, b"\x90\x00")])
    put_key, set_status = _decoded(exchanges, [DEFAULT], redact=DEFAULT_REDACTOR)[3:]
    assert put_key.redacted and put_key.command.name == "PUT KEY"
    assert put_key.response is not None and put_key.response.fields["kcvs"] == [b"\xaa\xbb\xcc"]
    assert set_status.protection is not None and set_status.protection.note == (
        "wrapped (the MAC chain was lost at the redacted command on line 7)")
    assert set_status.command.fields == {"target": 0x80, "state": 0x0F}


def test_a_tampered_command_does_not_unwrap_and_ends_the_session() -> None:
    exchanges = _scp03(0x01, [(GET_STATUS, b"\x90\x00"), (SET_STATUS, b"\x90\x00")])
    command, response = exchanges[3]
    exchanges[3] = (command[:-2] + bytes([command[-2] ^ 1]) + command[-1:], response)
    tampered, after = _decoded(exchanges, [DEFAULT])[3:]
    assert tampered.protection is not None
    assert tampered.protection.note.startswith("does not unwrap: ")
    assert after.protection is not None and after.protection.note == (
        "wrapped (a MAC did not verify on line 7)")


def test_a_select_ends_the_session() -> None:
    exchanges = _scp03(0x01, [(GET_STATUS, b"\x90\x00")])
    exchanges.insert(3, (SELECT_ISD, b"\x90\x00"))
    status = _decoded(exchanges, [DEFAULT])[4]
    assert status.protection is None and status.command.name == "GET STATUS"


@pytest.mark.parametrize("icv_encryption", [True, False])
def test_scp02_sessions_are_undone_too(icv_encryption: bool) -> None:
    static = DEFAULT.card_keys(KDD, Algorithm.TDES)
    host = SCP02HostHandshake(static, host_challenge=bytes(8), icv_encryption=icv_encryption)
    card = SCP02CardHandshake(static, kdd=KDD, kvn=0x20, sequence_counter=5,
                              card_challenge=bytes(6), icv_encryption=icv_encryption)
    answer = card.respond_initialize_update(host.host_challenge) + b"\x90\x00"
    host.process_initialize_update_response(answer[:-2])
    authenticate, host_session = host.external_authenticate(0x03)
    card_session = card_verifies(card, authenticate)
    exchanges = [(host.initialize_update_command(), answer), (authenticate, b"\x90\x00")]
    for command in (GET_STATUS, SET_STATUS):
        wrapped = host_session.wrap_command(command)
        card_session.unwrap_command(wrapped)
        exchanges.append((wrapped, b"\x90\x00"))
    update, _, status, state = _decoded(exchanges, [DEFAULT])
    assert update.note.startswith("SCP02, key version 20; card cryptogram verified")
    assert status.protection is not None and status.protection.unwrapped
    assert status.command.fields["data"] == {"criteria": b"\x4f\x00"}
    assert state.protection is not None and state.protection.note == "C-MAC verified"
