"""Characters to recorded bits and back: odd parity, LRC, clocking zeros, direction.

Each character is recorded least-significant data bit first, followed by its odd
parity bit (track 1: 6+1 bits, tracks 2/3: 4+1 bits). The LRC character follows
the end sentinel and carries its own odd parity. Runs of zero bits before and
after give a reader its clock (domain-facts §6.1).

Decoding finds the first ``1`` bit, which must begin the start sentinel, then
checks every parity bit, the end sentinel and the LRC. When only zeros are left
the recording has ended: meeting that before the end sentinel means the end
sentinel is missing (an all-zero character followed by more data is a parity
error). A card swiped the other way round yields the same bits in reverse order,
so the decoder reads the stream both ways and keeps the reading that makes sense
(see ``_best_reading``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import BadLRC, BadParity, BadSentinel, StripeError
from .formats import TRACK1, TRACK2, TrackFormat

__all__ = [
    "DEFAULT_CLOCK_ZEROS",
    "BitRead",
    "Bits",
    "bits_from_str",
    "bits_to_str",
    "char_bits",
    "decode_bits",
    "decode_bits_any",
    "encode_bits",
]

Bits = tuple[int, ...]

DEFAULT_CLOCK_ZEROS = 25
"""Zero bits recorded before and after the data (enough for a reader to lock on)."""


@dataclass(frozen=True)
class BitRead:
    """What a bit stream held: the track string, its LRC and the swipe direction."""

    text: str
    """Start sentinel through end sentinel."""
    lrc: str
    reversed: bool
    format: TrackFormat


def char_bits(code: int, fmt: TrackFormat) -> Bits:
    """Data bits of ``code``, least significant first, then the odd parity bit."""
    data = tuple((code >> i) & 1 for i in range(fmt.data_bits))
    return (*data, 1 - sum(data) % 2)


def encode_bits(
    text: str,
    fmt: TrackFormat,
    *,
    leading_zeros: int = DEFAULT_CLOCK_ZEROS,
    trailing_zeros: int = DEFAULT_CLOCK_ZEROS,
) -> Bits:
    """The bits recorded for ``text`` (start sentinel .. end sentinel), LRC appended."""
    if not text.startswith(fmt.start_sentinel):
        raise BadSentinel("start", f"{fmt.name} text must begin with {fmt.start_sentinel!r}")
    if not text.endswith(fmt.end_sentinel) or len(text) < 2:
        raise BadSentinel("end", f"{fmt.name} text must end with {fmt.end_sentinel!r}")
    recorded = text + fmt.lrc(text)
    data = [bit for i, c in enumerate(recorded) for bit in char_bits(fmt.code_of(c, i), fmt)]
    return (0,) * leading_zeros + tuple(data) + (0,) * trailing_zeros


def bits_to_str(bits: Iterable[int]) -> str:
    """``'0110…'``: for vectors, traces and the CLI."""
    return "".join("1" if bit else "0" for bit in bits)


def bits_from_str(text: str) -> Bits:
    """Parse ``'0110…'`` (spaces ignored)."""
    cleaned = "".join(text.split())
    bad = next((c for c in cleaned if c not in "01"), None)
    if bad is not None:
        raise ValueError(f"{bad!r} is not a bit")
    return tuple(int(c) for c in cleaned)


def _code_at(bits: Sequence[int], pos: int, fmt: TrackFormat) -> int | None:
    """Data-bit value of the character at ``pos``; None where the recording has stopped."""
    group = bits[pos : pos + fmt.data_bits + 1]
    if len(group) <= fmt.data_bits or not any(bits[pos:]):
        return None
    return sum(bit << i for i, bit in enumerate(group[:-1]))


def _parity_ok(bits: Sequence[int], pos: int, fmt: TrackFormat) -> bool:
    return sum(bits[pos : pos + fmt.data_bits + 1]) % 2 == 1


@dataclass(frozen=True)
class _Failure:
    """Why one reading (format and direction) failed, and how far it got."""

    error: StripeError
    progress: int
    """Characters read before the error; -1 when no start sentinel was found."""


def _read_one_way(bits: Sequence[int], fmt: TrackFormat, reversed_: bool) -> BitRead | _Failure:
    width = fmt.data_bits + 1
    pos = next((i for i, bit in enumerate(bits) if bit), None)
    if pos is None:
        return _Failure(BadSentinel("start", "the stream holds no 1 bits"), -1)
    if _code_at(bits, pos, fmt) != fmt.code_of(fmt.start_sentinel):
        detail = f"{fmt.name} must begin with {fmt.start_sentinel!r}"
        return _Failure(BadSentinel("start", detail), -1)
    chars: list[str] = []
    lrc = 0
    while not chars or chars[-1] != fmt.end_sentinel:
        if len(chars) + 1 >= fmt.max_chars:
            detail = f"not found within {fmt.max_chars - 1} characters"
            return _Failure(BadSentinel("end", detail), len(chars))
        code = _code_at(bits, pos, fmt)
        if code is None:
            detail = f"recording stops after {len(chars)} characters"
            return _Failure(BadSentinel("end", detail), len(chars))
        if not _parity_ok(bits, pos, fmt):
            return _Failure(BadParity(len(chars), pos), len(chars))
        chars.append(fmt.char_of(code))
        lrc ^= code
        pos += width
    if len(chars) == 2:
        # Nothing between the sentinels: never recorded, but what a backwards read
        # sees when the LRC looks like a start sentinel (track 2's '?' is a palindrome).
        detail = "directly after the start sentinel (an empty track or a false start)"
        return _Failure(BadSentinel("end", detail), 1)
    expected = fmt.char_of(lrc)
    code = _code_at(bits, pos, fmt)
    if code is None:
        return _Failure(BadLRC(expected, None), len(chars))
    if not _parity_ok(bits, pos, fmt):
        return _Failure(BadParity(len(chars), pos), len(chars))
    if code != lrc:
        return _Failure(BadLRC(expected, fmt.char_of(code)), len(chars))
    return BitRead(text="".join(chars), lrc=expected, reversed=reversed_, format=fmt)


def _best_reading(readings: Iterable[BitRead | _Failure], what: str) -> BitRead:
    """The longest successful reading; failing all, the error of the one that got furthest.

    Read backwards, a recording can begin with something that looks like a start
    sentinel (its LRC); such a false start yields a short or failed reading, so
    length and progress pick the true direction. Ties go to the earlier reading.
    """
    successes: list[BitRead] = []
    failures: list[_Failure] = []
    for reading in readings:
        if isinstance(reading, BitRead):
            successes.append(reading)
        else:
            failures.append(reading)
    if successes:
        return max(successes, key=lambda read: len(read.text))
    furthest = max(failures, key=lambda failure: failure.progress)
    if furthest.progress < 0 and len(failures) > 1:
        raise BadSentinel("start", f"no {what} start sentinel in either direction")
    raise furthest.error


def decode_bits(bits: Sequence[int], fmt: TrackFormat, *, reverse: bool | None = None) -> BitRead:
    """Decode one track's bits: as given (``reverse=False``), reversed (``True``) or either."""
    directions = (False, True) if reverse is None else (reverse,)
    readings = (
        _read_one_way(bits[::-1] if backwards else bits, fmt, backwards) for backwards in directions
    )
    return _best_reading(readings, fmt.name)


def decode_bits_any(
    bits: Sequence[int], formats: Sequence[TrackFormat] = (TRACK1, TRACK2)
) -> BitRead:
    """Decode bits whose track is unknown, trying each format in both directions."""
    reversed_bits = bits[::-1]
    return _best_reading(
        (
            _read_one_way(reversed_bits if backwards else bits, fmt, backwards)
            for fmt in formats
            for backwards in (False, True)
        ),
        " or ".join(fmt.name for fmt in formats),
    )
