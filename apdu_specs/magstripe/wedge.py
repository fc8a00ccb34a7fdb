"""Parse what a USB keyboard-wedge stripe reader types: ``%B…?;…?`` (+ track 3).

Such readers decode the tracks themselves and type each one between its
sentinels, without the LRC: track 1 from ``%``, track 2 from ``;`` and track 3
from ``;`` (after track 2) or ``+``, each up to ``?``. A track the reader could
not decode is typed as ``%E?``, ``;E?`` or ``+E?``. Line breaks and spaces
between tracks are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validate import check_text
from .errors import BadCharacter, BadField, BadSentinel
from .formats import TRACK3
from .tracks import Track1, Track2

__all__ = ["WedgeRead", "parse_wedge"]

_READ_ERROR = "E"


@dataclass(frozen=True)
class WedgeRead:
    """The tracks in one swipe as typed by the reader."""

    track1: Track1 | None = None
    track2: Track2 | None = None
    track3: str | None = None
    """Track 3 data between its sentinels (no model: not used by payment cards here)."""
    failed_tracks: tuple[int, ...] = ()
    """Tracks the reader reported as unreadable."""


def _segments(text: str) -> list[tuple[int, str, str]]:
    """(track number, start sentinel, body) for each ``S…?`` run in ``text``."""
    segments: list[tuple[int, str, str]] = []
    pos = 0
    while pos < len(text):
        start = text[pos]
        if start.isspace():
            pos += 1
            continue
        if start not in "%;+":
            raise BadCharacter(start, pos, "reader output (a track starts with %, ; or +)")
        end = text.find("?", pos)
        if end < 0:
            raise BadSentinel("end", f"no '?' closes the track starting at position {pos}")
        seen_semicolon = any(sentinel == ";" for _, sentinel, _ in segments)
        number = 1 if start == "%" else 2 if start == ";" and not seen_semicolon else 3
        if any(existing == number for existing, _, _ in segments):
            raise BadField("reader output", f"track {number} appears twice")
        segments.append((number, start, text[pos + 1 : end]))
        pos = end + 1
    if not segments:
        raise BadSentinel("start", "no track in the reader output")
    return segments


def parse_wedge(text: str, *, check_luhn: bool = True) -> WedgeRead:
    """Parse keyboard-wedge output into track objects."""
    track1: Track1 | None = None
    track2: Track2 | None = None
    track3: str | None = None
    failed: list[int] = []
    for number, sentinel, body in _segments(text):
        if body == _READ_ERROR:
            failed.append(number)
        elif number == 1:
            track1 = Track1.decode(f"{sentinel}{body}?", check_luhn=check_luhn)
        elif number == 2:
            track2 = Track2.decode(f"{sentinel}{body}?", check_luhn=check_luhn)
        else:
            check_text(body, "track 3", TRACK3, ";?")
            track3 = body
    return WedgeRead(track1, track2, track3, tuple(failed))
