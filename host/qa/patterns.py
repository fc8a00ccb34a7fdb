"""Expected status words and response data with wildcards, as QA writes them.

- A status word pattern is four hex digits, any of which may be ``X``: ``9000``,
  ``61XX`` (any 61xx), ``63CX`` (wrong PIN, any number of tries left).
- A data pattern is hex where ``XX`` is any one byte (a single ``X``, any nibble) and
  ``..`` any number of bytes, none included: ``6F .. 84 07 F0 XX XX XX XX XX XX ..``.
  Spaces, colons and ``0x`` prefixes are ignored, as everywhere hex is typed.

Both compile to regular expressions over upper-case hex, so matching never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from apdu_specs.hexutil import to_hex

from .errors import QAError

__all__ = ["DataPattern", "SWPattern", "declared_sw_patterns", "parse_sw_list", "strip_noise"]

_NIBBLE = "[0-9A-F]"
#: separators and ``0x`` prefixes (lower-case x only: upper-case X is the wildcard)
_NOISE = re.compile(r"(?:^|(?<=[\s:,\[]))0x(?=[0-9a-fA-F])|[\s:,\[\]]")
#: status words a spec declares as a family: 61xx, 63Cx, 6Cxx
_FAMILIES = {0x6100: "61XX", 0x63C0: "63CX", 0x6C00: "6CXX"}


@dataclass(frozen=True)
class SWPattern:
    """Four nibbles, each a hex digit or ``X`` (any)."""

    text: str

    @classmethod
    def parse(cls, text: str) -> SWPattern:
        cleaned = strip_noise(text).upper()
        if len(cleaned) != 4 or any(c not in "0123456789ABCDEFX" for c in cleaned):
            raise QAError(f"status word pattern {text!r} must be 4 hex digits (X for any), "
                          "e.g. 9000, 61XX, 63CX")
        return cls(cleaned)

    @classmethod
    def exact(cls, sw: int) -> SWPattern:
        return cls(f"{sw:04X}")

    def matches(self, sw: int) -> bool:
        return all(p in ("X", s) for p, s in zip(self.text, f"{sw:04X}", strict=True))

    def __str__(self) -> str:
        return self.text


def strip_noise(text: str) -> str:
    """``text`` without separators and ``0x`` prefixes; wildcards are kept."""
    return _NOISE.sub("", text)


def parse_sw_list(text: str) -> tuple[SWPattern, ...]:
    """``9000``, ``(9000, 6A88)`` or ``9000|61XX`` → the patterns, at least one."""
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    parts = [p for p in re.split(r"[\s,|/]+", inner) if p]
    if not parts:
        raise QAError(f"no status word in {text!r}")
    return tuple(SWPattern.parse(p) for p in parts)


def declared_sw_patterns(sws: Iterable[int]) -> tuple[SWPattern, ...]:
    """Patterns for the status words a command spec declares (61xx, 63Cx, 6Cxx as families)."""
    return tuple(SWPattern(_FAMILIES[sw]) if sw in _FAMILIES else SWPattern.exact(sw)
                 for sw in sws)


@dataclass(frozen=True)
class DataPattern:
    """Response data with ``X`` (nibble), ``XX`` (byte) and ``..`` (any bytes) wildcards."""

    text: str
    _regex: re.Pattern[str] = field(repr=False, compare=False)

    @classmethod
    def parse(cls, text: str) -> DataPattern:
        cleaned = strip_noise(text).upper()
        pieces = cleaned.split("..")
        for piece in pieces:
            bad = next((c for c in piece if c not in "0123456789ABCDEFX"), None)
            if bad is not None:
                raise QAError(f"{bad!r} in data pattern {text!r}: use hex digits, X or XX "
                              "for any nibble or byte, .. for any bytes")
            if len(piece) % 2:
                raise QAError(f"data pattern {text!r} has an odd number of hex digits "
                              f"in {piece!r}")
        regex = "(?:[0-9A-F]{2})*".join(
            "".join(_NIBBLE if c == "X" else c for c in piece) for piece in pieces)
        canonical = "..".join(pieces)
        return cls(canonical, re.compile(regex))

    @classmethod
    def exact(cls, data: bytes) -> DataPattern:
        return cls.parse(to_hex(data))

    @property
    def is_any(self) -> bool:
        return self.text == ".."

    def matches(self, data: bytes) -> bool:
        return self._regex.fullmatch(to_hex(data)) is not None

    def __str__(self) -> str:
        return self.text
