"""ISO 9564-1 PIN blocks, formats 0 and 4: published vectors, round trips, malformed blocks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.crypto.ciphers import Algorithm, ecb_decrypt, ecb_encrypt
from apdu_specs.crypto.errors import DataLengthError, FormatError, PINBlockError
from apdu_specs.crypto.pin_blocks import (
    decipher_format_0,
    decipher_format_4,
    decode_format_0,
    decode_pin_field_4,
    encipher_format_0,
    encipher_format_4,
    encode_format_0,
    encode_pin_field_4,
    pan_field_4,
)

h = bytes.fromhex
ZPK = h("0123456789ABCDEFFEDCBA9876543210")
AES_KEY = h("00112233445566778899AABBCCDDEEFF")

pins = st.text("0123456789", min_size=4, max_size=12)
pans = st.text("0123456789", min_size=13, max_size=19)


# -- published vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "pan", "block"),
    [
        # knovichikhin/psec tests/test_pinblock.py (test_encode_pinblock_iso_0 and
        # test_decode_pinblock_iso_0).
        ("1234", "5555555551234567", "041261AAAAEDCBA9"),
        ("123456789", "5555555551234567", "091261032D8DCBA9"),
        ("1234567890", "5555555551234567", "0A1261032D82CBA9"),
        ("123456789012", "5555555551234567", "0C1261032D8226A9"),
        # The ISO-0 example of EFTlab's "Complete list of PIN blocks"
        # (eftlab.com.au/knowledge-base/complete-list-of-pin-blocks), also on ID TECH's
        # "PIN block" page: PAN 43219876543210987, PIN 1234.
        ("1234", "43219876543210987", "0412AC89ABCDEF67"),
    ],
)
def test_format_0_published_blocks(pin: str, pan: str, block: str) -> None:
    assert encode_format_0(pin, pan).hex().upper() == block
    assert decode_format_0(h(block), pan) == pin


def test_format_4_published_enciphered_block_ep2() -> None:
    # ep2 (eft/pos 2000) Security Specification 8.0.0, §8.4 "PIN Encryption", as quoted
    # in knovichikhin/psec tests/test_pinblock.py (test_decipher_pinblock_iso_4).
    key = h("C1D0F8FB4958670DBA40AB1F3752EF0D")
    block = h("CC17F65586BFD0953010226C4FC5B3CA")
    assert decipher_format_4(key, block, "432198765432109870") == "1234"


def test_format_4_published_blocks_psec() -> None:
    # knovichikhin/psec tests/test_pinblock.py: the deterministic encipherment with an
    # all-FF pad (test_encipher_pinblock_iso_4_det), a PAN shorter than 12 digits
    # (test_decipher_pinblock_iso_4), the PAN field and a decoded PIN field.
    pan = "1234567890123456789"
    block = encipher_format_4(AES_KEY, "1234", pan, b"\xff" * 8)
    assert block.hex().upper() == "28B41FDDD29B743E93124BD8E32D921E"
    assert decipher_format_4(AES_KEY, h("39B69B1B91FE05D48F7EF0D68EB2CBD6"), "1") == "123456"
    assert pan_field_4("112233445566778899").hex().upper() == "61122334455667788990000000000000"
    assert decode_pin_field_4(h("441234AAAAAAAAAA548ED7FD65495950")) == "1234"
    assert encode_pin_field_4("1234", b"\0" * 8)[:8].hex().upper() == "441234AAAAAAAAAA"


# -- construction, recomputed with raw primitives --------------------------------------------------


def test_a_short_pan_is_padded_on_the_left() -> None:
    # ISO 9564-1: fewer than 12 digits left of the check digit are right-justified, 0-padded
    assert encode_format_0("1234", "4000123456785") == encode_format_0("1234", "04000123456785")
    expected = bytes(a ^ b for a, b in zip(h("041234FFFFFFFFFF"), h("0000012345678901"),
                                           strict=True))
    assert encode_format_0("1234", "123456789012") == expected


def test_format_0_is_3des_of_the_clear_block() -> None:
    clear = encode_format_0("4524", "1122334455667788")
    enciphered = encipher_format_0(ZPK, "4524", "1122334455667788")
    assert ecb_decrypt(Algorithm.TDES, ZPK, enciphered) == clear
    assert decipher_format_0(ZPK, enciphered, "1122334455667788") == "4524"


def test_format_4_is_two_aes_passes_around_the_pan_field() -> None:
    pad = bytes(range(8))
    pan = "6222020000000017"
    first = ecb_encrypt(Algorithm.AES, AES_KEY, encode_pin_field_4("904512", pad))
    middle = bytes(a ^ b for a, b in zip(first, pan_field_4(pan), strict=True))
    assert encipher_format_4(AES_KEY, "904512", pan, pad) == \
        ecb_encrypt(Algorithm.AES, AES_KEY, middle)


# -- properties ----------------------------------------------------------------------------------


@given(pin=pins, pan=pans)
def test_format_0_round_trip(pin: str, pan: str) -> None:
    assert decode_format_0(encode_format_0(pin, pan), pan) == pin
    assert decipher_format_0(ZPK, encipher_format_0(ZPK, pin, pan), pan) == pin


@given(pin=pins, pan=st.text("0123456789", min_size=1, max_size=19),
       pad=st.binary(min_size=8, max_size=8), key_length=st.sampled_from([16, 24, 32]))
def test_format_4_round_trip(pin: str, pan: str, pad: bytes, key_length: int) -> None:
    key = bytes(range(key_length))
    assert decipher_format_4(key, encipher_format_4(key, pin, pan, pad), pan) == pin


def _well_formed_0(block: bytes, pan: str) -> bool:
    nibbles = bytes(a ^ b for a, b in zip(block, h("0000" + pan[-13:-1]), strict=True)).hex()
    length = int(nibbles[1], 16)
    return (nibbles[0] == "0" and 4 <= length <= 12 and nibbles[2:2 + length].isdigit()
            and set(nibbles[2 + length:]) <= {"f"})


@given(block=st.binary(min_size=8, max_size=8), pan=pans)
def test_format_0_decoding_accepts_exactly_the_well_formed_blocks(block: bytes, pan: str) -> None:
    if _well_formed_0(block, pan):
        assert encode_format_0(decode_format_0(block, pan), pan) == block
    else:
        with pytest.raises(PINBlockError):
            decode_format_0(block, pan)


@given(field=st.binary(min_size=16, max_size=16))
def test_format_4_decoding_rejects_a_malformed_pin_field(field: bytes) -> None:
    nibbles = field.hex()
    length = int(nibbles[1], 16)
    good = (nibbles[0] == "4" and 4 <= length <= 12 and nibbles[2:2 + length].isdigit()
            and set(nibbles[2 + length:16]) <= {"a"})
    if good:
        assert encode_pin_field_4(decode_pin_field_4(field), field[8:]) == field
    else:
        with pytest.raises(PINBlockError):
            decode_pin_field_4(field)


@given(block=st.binary().filter(lambda b: len(b) != 8))
def test_a_block_of_another_length_is_refused(block: bytes) -> None:
    with pytest.raises(PINBlockError, match="8 bytes"):
        decipher_format_0(ZPK, block, "5555555551234567")


@given(pin=st.text("0123456789", min_size=4, max_size=4), pan=pans)
def test_a_block_for_another_pan_is_refused(pin: str, pan: str) -> None:
    # PAN[-2] lies under the last fill nibble of a 4-digit PIN: any other digit there
    # turns that F into something else
    other = pan[:-2] + str((int(pan[-2]) + 1) % 10) + pan[-1]
    with pytest.raises(PINBlockError):
        decipher_format_0(ZPK, encipher_format_0(ZPK, pin, pan), other)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: encode_format_0("123", "5555555551234567"), FormatError),
        (lambda: encode_format_0("1234567890123", "5555555551234567"), FormatError),
        (lambda: encode_format_0("12a4", "5555555551234567"), FormatError),
        (lambda: encode_format_0("1234", "5"), FormatError),  # no digit but the check digit
        (lambda: encode_format_0("1234", "5" * 20), FormatError),
        (lambda: encode_pin_field_4("1234", b"\0" * 7), DataLengthError),
        (lambda: pan_field_4(""), FormatError),
        (lambda: pan_field_4("1" * 20), FormatError),
        # psec's malformed blocks (tests/test_pinblock.py): control 2, length F, length 2,
        # bad fill, a non-decimal digit.
        (lambda: decode_format_0(h("241261AAAAEDCBA9"), "5555555551234567"), PINBlockError),
        (lambda: decode_format_0(h("0F1261AAAAEDCBA9"), "5555555551234567"), PINBlockError),
        (lambda: decode_format_0(h("021261AAAAEDCBA9"), "5555555551234567"), PINBlockError),
        (lambda: decode_format_0(h("041261AAAAEDCBAA"), "5555555551234567"), PINBlockError),
        (lambda: decode_format_0(h("051261AAAAEDCBA9"), "5555555551234567"), PINBlockError),
        (lambda: decode_pin_field_4(h("541234AAAAAAAAAA548ED7FD65495950")), PINBlockError),
        (lambda: decode_pin_field_4(h("441234ABCDEFABCD548ED7FD65495950")), PINBlockError),
        (lambda: decode_pin_field_4(h("4412D4AAAAAAAAAA548ED7FD65495950")), PINBlockError),
    ],
)
def test_malformed_input_is_refused_by_name(call: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


def test_errors_never_show_the_pin() -> None:
    block = encode_format_0("987654", "5555555551234567")
    with pytest.raises(PINBlockError) as caught:
        decode_format_0(block[:-1] + bytes([block[-1] ^ 0x01]), "5555555551234567")
    assert "987654" not in str(caught.value)
