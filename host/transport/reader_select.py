"""Choosing PC/SC readers from a user's selector, without touching PC/SC.

Selectors (ecosystem §3.1):

- ``""``            every reader (fine when only one is attached)
- ``#N`` or ``N``   the N-th reader, counting from 0 (an exact name wins over
                    a bare number)
- ``re:REGEX``      readers whose name matches REGEX anywhere
- ``NAME``          the reader named exactly NAME, else every reader whose name
                    contains NAME (case-insensitive)

Selection never guesses: when several readers remain, it raises
:class:`ReaderAmbiguousError` listing them. One exception is made for the two
slots of one dual-slot reader (pcsc-lite names end in ``<index> <slot>``, e.g.
``Virtual PCD 00 00`` and ``Virtual PCD 00 01``): that pair addresses one
dual-chip card, slot 00 holding chip 1 and slot 01 chip 2, and the caller
picks a chip with ``chip=1`` or ``chip=2``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from host.transport.base import NoReaderError, ReaderAmbiguousError, ReaderSpecError

__all__ = [
    "dual_slot_pair",
    "match_readers",
    "select_card_readers",
    "select_reader",
    "visible_readers",
]

_PCSC_LITE_SUFFIX = re.compile(r" [0-9A-Fa-f]{2} (?P<slot>[0-9A-Fa-f]{2})$")
_INDEX = re.compile(r"#?(?P<index>[0-9]+)")


def visible_readers(readers: Sequence[str], ignore: Sequence[str] = ()) -> list[str]:
    """Drop readers whose name contains any of ``ignore`` (case-insensitive)."""
    patterns = [p.casefold() for p in ignore if p]
    return [r for r in readers if not any(p in r.casefold() for p in patterns)]


def match_readers(spec: str, readers: Sequence[str]) -> list[str]:
    """Every reader the selector ``spec`` names, in the order given."""
    if not spec:
        return list(readers)
    if spec.startswith("re:"):
        try:
            pattern = re.compile(spec[3:])
        except re.error as exc:
            raise ReaderSpecError(f"bad reader regex {spec[3:]!r}: {exc}") from None
        return [r for r in readers if pattern.search(r)]
    if spec in readers:
        return [spec]
    index = _INDEX.fullmatch(spec)
    if index is not None:
        position = int(index["index"])
        return [readers[position]] if position < len(readers) else []
    needle = spec.casefold()
    return [r for r in readers if needle in r.casefold()]


def dual_slot_pair(names: Sequence[str]) -> tuple[str, str] | None:
    """``(slot 00, slot 01)`` when ``names`` are exactly the two slots of one reader."""
    if len(names) != 2:
        return None
    first, second = sorted(names)
    m1, m2 = _PCSC_LITE_SUFFIX.search(first), _PCSC_LITE_SUFFIX.search(second)
    if m1 is None or m2 is None or first[:-2] != second[:-2]:
        return None
    if (int(m1["slot"], 16), int(m2["slot"], 16)) != (0, 1):
        return None
    return first, second


def select_reader(
    spec: str | None,
    readers: Sequence[str],
    *,
    chip: int | None = None,
    ignore: Sequence[str] = (),
) -> str:
    """The one reader ``spec`` names; ``chip`` picks a slot of a dual-slot reader.

    A selector that names a single reader returns it whatever ``chip`` says.
    """
    if chip not in (None, 1, 2):
        raise ReaderSpecError(f"chip must be 1 or 2, got {chip}")
    candidates = _candidates(spec, readers, ignore)
    if len(candidates) == 1:
        return candidates[0]
    pair = dual_slot_pair(candidates)
    if pair is not None:
        if chip is None:
            raise ReaderAmbiguousError(
                f"{_describe(spec)} names both slots of a dual-chip reader; choose chip 1 or 2",
                candidates,
            )
        return pair[chip - 1]
    raise ReaderAmbiguousError(f"{_describe(spec)} matches several readers", candidates)


def select_card_readers(
    spec: str | None, readers: Sequence[str], *, ignore: Sequence[str] = ()
) -> tuple[str, str]:
    """``(chip 1 reader, chip 2 reader)`` of the dual-slot reader ``spec`` names.

    Naming slot 00 exactly also works when its slot 01 sibling is attached.
    """
    candidates = _candidates(spec, readers, ignore)
    if len(candidates) == 1:
        sibling = candidates[0][:-2] + "01"
        pair = dual_slot_pair([candidates[0], sibling]) if sibling in readers else None
        if pair is not None and pair[0] == candidates[0]:
            return pair
        raise NoReaderError(f"{candidates[0]!r} is not slot 00 of a dual-slot reader", readers)
    pair = dual_slot_pair(candidates)
    if pair is None:
        raise ReaderAmbiguousError(
            f"{_describe(spec)} does not name one dual-slot reader", candidates
        )
    return pair


def _candidates(spec: str | None, readers: Sequence[str], ignore: Sequence[str]) -> list[str]:
    visible = visible_readers(readers, ignore)
    if not visible:
        raise NoReaderError("no PC/SC reader is attached", readers)
    matches = match_readers(spec or "", visible)
    if not matches:
        raise NoReaderError(f"no reader matches {spec!r}", visible)
    return matches


def _describe(spec: str | None) -> str:
    return f"reader selector {spec!r}" if spec else "an empty reader selector (all readers)"
