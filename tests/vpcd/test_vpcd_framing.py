"""The vpcd length-prefix codec (framing from vsmartcard doc/api.txt, domain-facts §7.1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.vpcd.framing import (
    MAX_PAYLOAD,
    Command,
    Control,
    ControlCode,
    FrameDecoder,
    FramingError,
    encode_control,
    encode_frame,
    parse_message,
)

pytestmark = pytest.mark.unit

payloads = st.binary(min_size=0, max_size=600)


def test_encode_frame_prefixes_big_endian_length_in_one_object() -> None:
    assert encode_frame(bytes.fromhex("00A4040000")) == bytes.fromhex("000500A4040000")
    assert encode_frame(b"") == b"\x00\x00"
    assert encode_frame(b"\x01" * 0x1234)[:2] == b"\x12\x34"


def test_encode_frame_accepts_the_maximum_and_rejects_more() -> None:
    assert len(encode_frame(bytes(MAX_PAYLOAD))) == MAX_PAYLOAD + 2
    with pytest.raises(FramingError, match="65536 bytes"):
        encode_frame(bytes(MAX_PAYLOAD + 1))


@pytest.mark.parametrize(
    ("wire", "code"),
    [("000100", ControlCode.POWER_OFF), ("000101", ControlCode.POWER_ON),
     ("000102", ControlCode.RESET), ("000104", ControlCode.GET_ATR)],
)
def test_control_codes_as_vpcd_sends_them(wire: str, code: ControlCode) -> None:
    (payload,) = FrameDecoder().feed(bytes.fromhex(wire))
    assert parse_message(payload) == Control(code)
    assert encode_control(code) == bytes.fromhex(wire)


def test_longer_payloads_are_command_apdus() -> None:
    assert parse_message(bytes.fromhex("00A4")) == Command(bytes.fromhex("00A4"))


@pytest.mark.parametrize("payload", [b"", b"\x03", b"\xff"])
def test_parse_rejects_empty_and_unknown_control(payload: bytes) -> None:
    with pytest.raises(FramingError):
        parse_message(payload)


@settings(max_examples=150)
@given(frames=st.lists(payloads, max_size=8), data=st.data())
def test_decoder_round_trips_any_chunking(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    decoder = FrameDecoder()
    out: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)]):
        out += decoder.feed(stream[start:end])
    assert out == frames
    assert decoder.buffered == 0


@settings(max_examples=100)
@given(payload=payloads)
def test_decoder_never_returns_a_partial_frame(payload: bytes) -> None:
    frame = encode_frame(payload)
    decoder = FrameDecoder()
    for byte in frame[:-1]:
        assert decoder.feed(bytes((byte,))) == []
    assert decoder.feed(frame[-1:]) == [payload]


def test_bytes_needed_tracks_header_then_body() -> None:
    decoder = FrameDecoder()
    assert decoder.bytes_needed == 2
    decoder.feed(b"\x00")
    assert decoder.bytes_needed == 1
    decoder.feed(b"\x05\x00\xa4")
    assert decoder.bytes_needed == 3
    assert decoder.feed(b"\x04\x00\x00") == [bytes.fromhex("00A4040000")]
    assert decoder.bytes_needed == 2


def test_clear_drops_a_partial_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x05\x00")
    decoder.clear()
    assert decoder.buffered == 0
    assert decoder.feed(encode_frame(b"\x04")) == [b"\x04"]
