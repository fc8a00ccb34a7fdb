"""Track 1 / track 2 data models: layout, field limits, Luhn, service code, tag 57.

Also home of the hypothesis strategies for valid tracks that the other
``test_magstripe_*`` modules import.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apdu_specs.crypto.cvv import cvv
from apdu_specs.crypto.luhn import check_digit
from apdu_specs.magstripe import (
    TRACK1,
    TRACK2,
    BadCharacter,
    BadField,
    BadLRC,
    BadLuhn,
    BadSentinel,
    DiscretionaryData,
    FieldTooLong,
    FieldTooShort,
    ServiceCode,
    StripeError,
    Track1,
    Track2,
    decode_track,
)
from apdu_specs.magstripe.service_code import (
    Authorisation,
    Interchange,
    PinRequirement,
    Services,
)

pytestmark = pytest.mark.unit

# -- strategies (imported by the other magstripe test modules) ---------------------------

DIGITS = "0123456789"
NAME_ALPHABET = "".join(chr(c) for c in range(0x20, 0x60) if chr(c) not in "%?^")
TRACK1_DISCRETIONARY = "".join(chr(c) for c in range(0x20, 0x60) if chr(c) not in "%?")
TRACK2_DISCRETIONARY = "".join(chr(c) for c in range(0x30, 0x40) if chr(c) not in ";?")


@st.composite
def pans(draw: st.DrawFn, luhn: bool = True) -> str:
    """8-19 digit PANs; Luhn-valid unless ``luhn`` is False (then usually invalid)."""
    payload = draw(st.text(DIGITS, min_size=7, max_size=18))
    digit = check_digit(payload)
    if not luhn:
        digit = str((int(digit) + draw(st.integers(1, 9))) % 10)
    return payload + digit


expiry_values = st.builds(
    lambda yy, mm: f"{yy:02d}{mm:02d}", st.integers(0, 99), st.integers(1, 12)
)
service_code_values = st.text(DIGITS, min_size=3, max_size=3)
expiries = st.none() | expiry_values
service_codes = st.none() | service_code_values


def _framing_length(expiry: str | None, service_code: str | None) -> int:
    return (4 if expiry else 1) + (3 if service_code else 1)


@st.composite
def track2s(draw: st.DrawFn) -> Track2:
    pan, expiry, code = draw(pans()), draw(expiries), draw(service_codes)
    # ';' PAN '=' expiry|'=' code|'=' discretionary '?' LRC  <= 40
    room = TRACK2.max_chars - (len(pan) + 4 + _framing_length(expiry, code))
    discretionary = draw(st.text(TRACK2_DISCRETIONARY, max_size=room))
    return Track2(pan, expiry, code, discretionary)


@st.composite
def track1s(draw: st.DrawFn) -> Track1:
    pan, expiry, code = draw(pans()), draw(expiries), draw(service_codes)
    name = draw(st.text(NAME_ALPHABET, min_size=2, max_size=26))
    # '%' 'B' PAN '^' NAME '^' expiry|'^' code|'^' discretionary '?' LRC  <= 79
    room = TRACK1.max_chars - (len(pan) + len(name) + 6 + _framing_length(expiry, code))
    discretionary = draw(st.text(TRACK1_DISCRETIONARY, max_size=room))
    return Track1(pan, name, expiry, code, discretionary)


tracks = track1s() | track2s()

# -- known layouts -----------------------------------------------------------------------

# The Visa CVV test card (public vector V48, Visa CVV test-data table reproduced at
# fsou.com/html/text/chl/848/84828_4.html): PAN 4123456789012345, expiry 8701, service
# code 101, CVK-A 0123456789ABCDEF, CVK-B FEDCBA9876543210 -> CVV 561. Its PAN fails Luhn.
VISA_PAN, VISA_EXPIRY, VISA_SC, VISA_CVV = "4123456789012345", "8701", "101", "561"
CVK = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")


def test_track2_layout_of_the_visa_test_card() -> None:
    track = Track2(VISA_PAN, VISA_EXPIRY, VISA_SC, "0000561", check_luhn=False)
    assert track.encode() == ";4123456789012345=87011010000561?"
    # LRC by hand: digit codes of the PAN XOR to 4; ';' (11) -> 15; '=' (13) -> 2;
    # 8^7^0^1 = 14 -> 12; 1^0^1 = 0 -> 12; 0^0^0^0^5^6^1 = 2 -> 14; '?' (15) -> 1.
    assert track.encode_with_lrc() == ";4123456789012345=87011010000561?1"


def test_track2_lrc_without_discretionary_data_by_hand() -> None:
    # As above without the discretionary data: 12 ^ '?' (15) = 3.
    assert TRACK2.lrc(";4123456789012345=8701101?") == "3"


def test_track1_layout() -> None:
    track = Track1("4111111111111111", "DOE/JOHN", "2512", "201", "123")
    assert track.encode() == "%B4111111111111111^DOE/JOHN^2512201123?"
    assert (track.surname, track.given_names) == ("DOE", "JOHN")
    assert Track1.decode(track.encode_with_lrc()) == track


@pytest.mark.parametrize(
    ("track", "text"),
    [
        (Track2("4111111111111111"), ";4111111111111111===?"),
        (Track2("4111111111111111", "2512"), ";4111111111111111=2512=?"),
        (Track2("4111111111111111", None, "201", "9"), ";4111111111111111==2019?"),
        (Track1("4111111111111111", "AB"), "%B4111111111111111^AB^^^?"),
        (Track1("4111111111111111", "AB", None, "201"), "%B4111111111111111^AB^^201?"),
    ],
)
def test_absent_fields_are_recorded_as_one_separator(track: Track1 | Track2, text: str) -> None:
    assert track.encode() == text
    assert decode_track(text) == track


@settings(max_examples=150)
@given(tracks)
def test_encode_decode_round_trip(track: Track1 | Track2) -> None:
    assert type(track).decode(track.encode()) == track
    assert decode_track(track.encode_with_lrc()) == track
    assert len(track.encode_with_lrc()) <= track.FORMAT.max_chars


# -- field limits ------------------------------------------------------------------------


def test_pan_limits() -> None:
    with pytest.raises(FieldTooLong) as too_long:
        Track2("4" * 20, check_luhn=False)
    assert (too_long.value.field, too_long.value.limit) == ("PAN", 19)
    with pytest.raises(FieldTooShort):
        Track2("4111111", check_luhn=False)
    Track2("4" * 19, check_luhn=False)


def test_name_limits() -> None:
    Track1("4111111111111111", "A" * 26)
    Track1("4111111111111111", "AB")
    with pytest.raises(FieldTooLong) as too_long:
        Track1("4111111111111111", "A" * 27)
    assert (too_long.value.field, too_long.value.limit) == ("name", 26)
    with pytest.raises(FieldTooShort):
        Track1("4111111111111111", "A")


def test_track2_total_length_limit_is_40_with_sentinels_and_lrc() -> None:
    # ; + 19 + = + 4 + 3 + ? + LRC = 30 recorded characters: 10 left for discretionary data.
    pan = "4" * 18 + check_digit("4" * 18)
    assert len(Track2(pan, "2512", "201", "0" * 10).encode_with_lrc()) == 40
    with pytest.raises(FieldTooLong) as too_long:
        Track2(pan, "2512", "201", "0" * 11)
    assert too_long.value.limit == 40
    assert too_long.value.length == 41


def test_track1_total_length_limit_is_79() -> None:
    pan = "4" * 18 + check_digit("4" * 18)
    # %B + 19 + ^ + 26 + ^ + 4 + 3 + ? + LRC = 58 recorded: 21 left.
    assert len(Track1(pan, "N" * 26, "2512", "201", "0" * 21).encode_with_lrc()) == 79
    with pytest.raises(FieldTooLong) as too_long:
        Track1(pan, "N" * 26, "2512", "201", "0" * 22)
    assert too_long.value.limit == 79


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: Track2("41111111A1111111"), BadCharacter),
        (lambda: Track1("4111111111111111", "DOE^JOHN"), BadCharacter),
        (lambda: Track1("4111111111111111", "doe/john"), BadCharacter),
        (lambda: Track2("4111111111111111", discretionary="12?3"), BadCharacter),
        (lambda: Track2("4111111111111111", discretionary="12A"), BadCharacter),
        (lambda: Track1("4111111111111111", "AB", discretionary="a"), BadCharacter),
        (lambda: Track2("4111111111111111", "2513"), BadField),
        (lambda: Track2("4111111111111111", "251"), FieldTooShort),
        (lambda: Track2("4111111111111111", "25A2"), BadCharacter),
        (lambda: Track2("4111111111111111", "2512", "2A1"), BadField),
        (lambda: Track2("4111111111111111", "2512", "2011"), BadField),
    ],
)
def test_invalid_fields_raise_typed_errors(build: object, error: type[StripeError]) -> None:
    with pytest.raises(error):
        build()  # type: ignore[operator]


def test_bad_character_names_field_and_position() -> None:
    with pytest.raises(BadCharacter) as caught:
        Track1("4111111111111111", "DOE^JOHN")
    assert (caught.value.char, caught.value.position, caught.value.where) == ("^", 3, "name")


# -- Luhn --------------------------------------------------------------------------------


def test_luhn_is_checked_by_default_and_masked_in_the_message() -> None:
    with pytest.raises(BadLuhn) as caught:
        Track2(VISA_PAN, VISA_EXPIRY, VISA_SC)
    assert "4123456789012345" not in str(caught.value)
    assert caught.value.masked_pan == "412345******2345"


def test_luhn_opt_out_accepts_classic_test_pans() -> None:
    track = Track2(VISA_PAN, VISA_EXPIRY, VISA_SC, check_luhn=False)
    with pytest.raises(BadLuhn):
        Track2.decode(track.encode())
    assert Track2.decode(track.encode(), check_luhn=False) == track


def test_luhn_vector() -> None:
    # V60, Wikipedia "Luhn algorithm" worked example: 7992739871 needs check digit 3.
    Track2("79927398713")
    with pytest.raises(BadLuhn):
        Track2("79927398710")


@given(pans(luhn=False))
def test_every_wrong_check_digit_is_rejected(pan: str) -> None:
    with pytest.raises(BadLuhn):
        Track2(pan)


# -- decoding errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("4111111111111111=2512201?", BadSentinel),
        (";4111111111111111=2512201", BadSentinel),
        (";4111111111111111=2512201?0", BadLRC),
        (";4111111111111111=2512201?00", BadSentinel),
        (";4111111111111111", BadSentinel),
        (";41111111111111112512201?", BadField),
        (";4111111111111111=251?", FieldTooShort),
        ("%A4111111111111111^AB^^^?", BadField),
        ("%B4111111111111111^AB?", BadField),
        ("%B4111111111111111^AB^^^\x7f?", BadCharacter),
        ("", BadSentinel),
    ],
)
def test_malformed_track_strings(text: str, error: type[StripeError]) -> None:
    with pytest.raises(error):
        decode_track(text)


def test_lrc_mismatch_names_both_characters() -> None:
    with pytest.raises(BadLRC) as caught:
        Track2.decode(";4111111111111111=2512201?0")
    assert caught.value.expected == TRACK2.lrc(";4111111111111111=2512201?")
    assert caught.value.found == "0"


# -- service code ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "interchange", "chip", "authorisation", "services", "pin"),
    [
        ("101", Interchange.INTERNATIONAL, False, Authorisation.NORMAL,
         Services.NO_RESTRICTIONS, PinRequirement.NONE),
        ("201", Interchange.INTERNATIONAL, True, Authorisation.NORMAL,
         Services.NO_RESTRICTIONS, PinRequirement.NONE),
        ("520", Interchange.NATIONAL, False, Authorisation.ONLINE,
         Services.NO_RESTRICTIONS, PinRequirement.REQUIRED),
        ("626", Interchange.NATIONAL, True, Authorisation.ONLINE,
         Services.NO_RESTRICTIONS, PinRequirement.WHERE_FEASIBLE),
        ("743", Interchange.BILATERAL, False, Authorisation.ONLINE_UNLESS_BILATERAL,
         Services.ATM_ONLY, PinRequirement.REQUIRED),
        ("905", Interchange.TEST, False, Authorisation.NORMAL,
         Services.GOODS_AND_SERVICES, PinRequirement.REQUIRED),
        ("318", Interchange.RESERVED, False, Authorisation.RESERVED,
         Services.RESERVED, PinRequirement.RESERVED),
    ],
)
def test_service_code_digits(
    code: str,
    interchange: Interchange,
    chip: bool,
    authorisation: Authorisation,
    services: Services,
    pin: PinRequirement,
) -> None:
    parsed = ServiceCode(code)
    assert parsed.interchange is interchange
    assert parsed.chip_present is chip
    assert parsed.authorisation is authorisation
    assert (parsed.services, parsed.pin) == (services, pin)
    assert parsed.describe()["chip_present"] is chip


def test_track_exposes_parsed_service_code() -> None:
    assert Track2("4111111111111111", "2512", "201").service == ServiceCode("201")
    service = Track2("4111111111111111", "2512", "201").service
    assert service is not None and service.chip_present
    assert Track2("4111111111111111").service is None


# -- discretionary data and tag 57 -------------------------------------------------------


def test_discretionary_layout_with_a_computed_cvv() -> None:
    # V48: the CVV of the Visa test card is 561; PVV 4422 is a placeholder value.
    code = cvv(CVK, VISA_PAN, VISA_EXPIRY, VISA_SC)
    assert code == VISA_CVV
    data = DiscretionaryData(pvki="1", pvv="4422", cvv=code, padding="00")
    assert data.encode() == "1442256100"
    track = Track2(VISA_PAN, VISA_EXPIRY, VISA_SC, data.encode(), check_luhn=False)
    assert DiscretionaryData.parse(track.discretionary) == data


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: DiscretionaryData("12", "4422", "561"), FieldTooLong),
        (lambda: DiscretionaryData("1", "442", "561"), FieldTooShort),
        (lambda: DiscretionaryData("1", "4422", "56A"), BadCharacter),
        (lambda: DiscretionaryData("1", "4422", "561", "0A"), BadCharacter),
        (lambda: DiscretionaryData.parse("1442256"), FieldTooShort),
        (lambda: DiscretionaryData.parse("14422=61"), BadCharacter),
    ],
)
def test_discretionary_errors(build: object, error: type[StripeError]) -> None:
    with pytest.raises(error):
        build()  # type: ignore[operator]


def test_track2_equivalent_data() -> None:
    track = Track2(VISA_PAN, VISA_EXPIRY, VISA_SC, "0000561", check_luhn=False)
    value = track.to_track2_equivalent()
    assert value == bytes.fromhex("4123456789012345D87011010000561F")
    assert Track2.from_track2_equivalent(value, check_luhn=False) == track
    with pytest.raises(BadField):
        Track2("4111111111111111").to_track2_equivalent()
    with pytest.raises(BadCharacter):
        Track2.from_track2_equivalent(bytes.fromhex("4111111111111111D2512201A0"))


@given(
    pans(),
    expiry_values,
    service_code_values,
    st.text(DIGITS, max_size=TRACK2.max_chars - 19 - 11),
)
def test_track2_equivalent_round_trip(
    pan: str, expiry: str, service_code: str, discretionary: str
) -> None:
    track = Track2(pan, expiry, service_code, discretionary)
    assert Track2.from_track2_equivalent(track.to_track2_equivalent()) == track
