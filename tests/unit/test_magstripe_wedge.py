"""Keyboard-wedge reader output: what a USB stripe reader types for one swipe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apdu_specs.magstripe import (
    BadCharacter,
    BadField,
    BadLuhn,
    BadSentinel,
    StripeError,
    Track1,
    Track2,
    WedgeRead,
    parse_wedge,
)

from .test_magstripe_tracks import track1s, track2s

pytestmark = pytest.mark.unit

T1 = "%B4111111111111111^DOE/JOHN^2512201123?"
T2 = ";4111111111111111=2512201123?"


def test_two_tracks_with_a_line_break() -> None:
    read = parse_wedge(f"{T1}{T2}\r\n")
    assert read.track1 == Track1("4111111111111111", "DOE/JOHN", "2512", "201", "123")
    assert read.track2 == Track2("4111111111111111", "2512", "201", "123")
    assert (read.track3, read.failed_tracks) == (None, ())


@pytest.mark.parametrize("track3", [";0123=4567?", "+0123=4567?"])
def test_track3_with_either_start_sentinel(track3: str) -> None:
    read = parse_wedge(f"{T1}\n{T2}\n{track3}")
    assert read.track3 == "0123=4567"
    assert read.track2 is not None


def test_tracks_the_reader_could_not_read() -> None:
    read = parse_wedge(f"%E?{T2}+E?")
    assert read == WedgeRead(None, Track2.decode(T2), None, (1, 3))
    assert parse_wedge("%E?;E?+E?").failed_tracks == (1, 2, 3)


def test_track2_alone() -> None:
    assert parse_wedge(T2) == WedgeRead(track2=Track2.decode(T2))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", BadSentinel),
        ("   \n", BadSentinel),
        ("x" + T2, BadCharacter),
        (T1 + "!" + T2, BadCharacter),
        (";4111111111111111=2512201123", BadSentinel),
        (T1 + T1, BadField),
        (T2 + ";12?" + ";34?", BadField),
        (T2 + ";12A?", BadCharacter),
        ("%B4111111111111111^DOE/JOHN^2513201?", BadField),
    ],
)
def test_malformed_output(text: str, error: type[StripeError]) -> None:
    with pytest.raises(error):
        parse_wedge(text)


def test_luhn_is_checked_unless_disabled() -> None:
    text = ";4123456789012345=8701101?"
    with pytest.raises(BadLuhn):
        parse_wedge(text)
    assert parse_wedge(text, check_luhn=False).track2 is not None


@given(track1s(), track2s(), st.sampled_from(["", "\n", "\r\n", " "]))
def test_round_trip_from_encoded_tracks(track1: Track1, track2: Track2, gap: str) -> None:
    read = parse_wedge(track1.encode() + gap + track2.encode() + gap)
    assert (read.track1, read.track2) == (track1, track2)
