"""GP data formats shared by card and host: DGIs, CPLC, registry entries, key blocks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.commands.gp_extra import (
    CPLC_FIELDS,
    KeyInfo,
    RegistryEntry,
    build_card_recognition,
    build_cplc,
    decode_key_component,
    decrypt_sensitive,
    encode_dgi,
    encode_key_component,
    encode_key_information,
    encrypt_sensitive,
    parse_card_recognition,
    parse_cplc,
    parse_key_information,
    parse_registry,
    split_dgis,
)
from apdu_specs.crypto.ciphers import Algorithm
from apdu_specs.errors import SpecError
from cardlib.security_domain.personalization import StoreDataControl, StoreDataSession
from host.gp import DGI, apdus

dgi_lists = st.lists(st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=600)), max_size=6)


@settings(max_examples=60, deadline=None)
@given(dgi_lists, st.integers(1, 40))
def test_gp_dgi_stream_split_anywhere_reassembles(dgis, cut) -> None:
    stream = b"".join(encode_dgi(d, v) for d, v in dgis)
    found, rest = [], b""
    for i in range(0, len(stream), cut):
        complete, rest = split_dgis(rest + stream[i:i + cut])
        found += complete
    assert found == dgis and rest == b""


def test_gp_dgi_length_encoding() -> None:
    assert encode_dgi(0x0101, bytes(254))[:3] == b"\x01\x01\xfe"
    assert encode_dgi(0x0101, bytes(255))[:5] == b"\x01\x01\xff\x00\xff"
    with pytest.raises(SpecError):
        encode_dgi(0x10000, b"")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.builds(DGI, st.integers(0, 0xFFFF), st.binary(max_size=400), st.booleans()),
                min_size=1, max_size=5), st.integers(16, 223))
def test_gp_host_blocks_feed_the_card_assembler(dgis, block_size) -> None:
    blocks = apdus.store_data(dgis, encrypt=lambda v: v[::-1], block_size=block_size)
    session = StoreDataSession(b"\xf0\x00\x00\x00\x01")
    received = []
    for block in blocks:
        received += session.feed(StoreDataControl.parse(block.p1), block.p2, block.data)
    assert session.finished
    assert [(d, v[::-1] if enc else v, enc) for d, v, enc in received] == [
        (d.dgi, d.value, d.sensitive) for d in dgis]


def test_gp_cplc_round_trip_and_header() -> None:
    fields = {name: bytes([i] * n) for i, (name, n) in enumerate(CPLC_FIELDS)}
    raw = build_cplc(fields)
    assert len(raw) == 42 and parse_cplc(raw) == fields
    assert parse_cplc(b"\x9f\x7f\x2a" + raw) == fields
    with pytest.raises(SpecError):
        parse_cplc(raw[:-1])


entries = st.builds(RegistryEntry, st.binary(min_size=5, max_size=16), st.integers(0, 255),
                    st.sampled_from([b"", b"\x00", b"\x9e\x00\x00"]),
                    st.sampled_from([b"", b"\xf0\x00\x00\x00\x01"]),
                    st.sampled_from([b"", b"\xa0\x00\x00\x01\x51\x00\x00\x00"]),
                    st.sampled_from([b"", b"\x01\x00"]),
                    st.lists(st.binary(min_size=5, max_size=16), max_size=3).map(tuple))


@settings(max_examples=60, deadline=None)
@given(st.lists(entries, max_size=4))
def test_gp_registry_entries_round_trip(items) -> None:
    assert parse_registry(b"".join(e.to_tlv() for e in items)) == items


def test_gp_card_recognition_and_key_information() -> None:
    rec = parse_card_recognition(build_card_recognition((2, 2, 1), 2, 0x55))
    assert (rec.gp_version, rec.scp, rec.i_parameter) == ("2.2.1", 2, 0x55)
    keys = [KeyInfo(1, 0x30, 0x88, 16), KeyInfo(2, 0x30, 0x88, 16)]
    assert parse_key_information(encode_key_information(keys)) == keys
    with pytest.raises(SpecError):
        parse_key_information(b"\xe0\x03\xc0\x01\x01")


@pytest.mark.parametrize(("algorithm", "length"), [
    (Algorithm.AES, 16), (Algorithm.AES, 24), (Algorithm.AES, 32), (Algorithm.SM4, 16),
    (Algorithm.TDES, 16),
])
def test_gp_key_components_round_trip(algorithm: Algorithm, length: int) -> None:
    dek = bytes(range(0x20, 0x30))
    key = bytes(range(length))
    entry = encode_key_component(algorithm, key, dek)
    assert key not in entry["key"]
    assert decode_key_component(entry, dek) == (algorithm, key)
    with pytest.raises(SpecError, match="check value"):
        decode_key_component({**entry, "kcv": b"\x00\x00\x00"}, dek)


def test_gp_aes_key_component_layout() -> None:
    # domain-facts §2.6 (GPPro encodeKey): 88 | L | keylen | AES-CBC(DEK, IV 0)(key) | 03 | KCV
    entry = encode_key_component(Algorithm.AES, bytes(16), bytes(16))
    assert entry["type"] == 0x88 and entry["key"][0] == 16 and len(entry["key"]) == 17


@pytest.mark.parametrize("algorithm", [Algorithm.AES, Algorithm.SM4, Algorithm.TDES])
def test_gp_sensitive_data_round_trip_and_bad_padding(algorithm: Algorithm) -> None:
    dek = bytes(range(16))
    for value in (b"", b"x", bytes(16), bytes(range(40))):
        assert decrypt_sensitive(algorithm, dek, encrypt_sensitive(algorithm, dek, value)) == value
    with pytest.raises(SpecError):
        decrypt_sensitive(algorithm, dek, bytes(algorithm.block_size))  # no 80 padding inside
    with pytest.raises(SpecError):
        decrypt_sensitive(algorithm, dek, b"\x01\x02\x03")
