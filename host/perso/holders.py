"""Holder records: who gets a card — from a CSV file (batch) or one JSON object (single card).

CSV columns (header row required; order free; unknown columns are an error, so a typo in
a header is not silently ignored):

=============  ========  ============================================================
column         required  content
=============  ========  ============================================================
``name``       yes       cardholder name, ``SURNAME/FIRST`` style, 2–26 characters of
                         A–Z, 0–9, space and ``. / - '`` (upper-cased)
``holder_id``  yes       the issuer's customer or national ID (1–32 characters)
``pan``        no        the PAN (12–19 digits, Luhn-checked); empty: the next free
                         number of the profile's ``card.pan_range``
``expiry``     no        ``YYMM``; empty: the profile's ``card.expiry_months`` from today
``card_id``    no        the card identity (8–19 digits); empty: the next free one of
                         ``card.id_prefix``
=============  ========  ============================================================

Free numbers come from the issuer's number store (:mod:`.numbering`), which also refuses
a PAN or card identity written here that another card already has. A holder id appears
once per file (one card per holder and batch). A record never carries a PIN (PINs are
generated per card) or a key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apdu_specs.crypto.luhn import is_valid as luhn_valid
from apdu_specs.documents import DocumentError, parse_csv, parse_json

from ..files import read_text
from .errors import HolderError

__all__ = ["COLUMNS", "HolderRecord", "holder_from_json", "read_holders", "read_holders_text"]

COLUMNS = ("name", "holder_id", "pan", "expiry", "card_id")
_REQUIRED = ("name", "holder_id")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ./-'")


@dataclass(frozen=True)
class HolderRecord:
    """One holder as given; ``index`` is the 0-based position in the input (for numbering)."""

    index: int
    name: str
    holder_id: str
    pan: str | None = None
    expiry: str | None = None
    card_id: str | None = None

    @property
    def row(self) -> int:
        """1-based record number, as operators count rows (header excluded)."""
        return self.index + 1


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _name(value: str, where: str) -> str:
    name = value.upper()
    if not 2 <= len(name) <= 26:
        raise HolderError(where, "name", f"must be 2 to 26 characters, got {len(name)}")
    bad = sorted(set(name) - _NAME_CHARS)
    if bad:
        raise HolderError(where, "name", f"character {bad[0]!r} cannot be embossed or encoded")
    return name


def _pan(value: str, where: str) -> str | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 12 <= len(value) <= 19:
        raise HolderError(where, "pan", "must be 12 to 19 digits")
    if not luhn_valid(value):
        raise HolderError(where, "pan", "fails the Luhn check (check digit wrong)")
    return value


def _expiry(value: str, where: str) -> str | None:
    if not value:
        return None
    digits = len(value) == 4 and value.isascii() and value.isdigit()
    if not digits or not 1 <= int(value[2:]) <= 12:
        raise HolderError(where, "expiry", f"must be YYMM with a month 01-12, got {value!r}")
    return value


def _card_id(value: str, where: str) -> str | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 8 <= len(value) <= 19:
        raise HolderError(where, "card_id", "must be 8 to 19 digits")
    return value


def _record(index: int, fields: Mapping[str, Any], where: str) -> HolderRecord:
    values = {k: _text(fields.get(k)) for k in COLUMNS}
    for column in _REQUIRED:
        if not values[column]:
            raise HolderError(where, column, "is required")
    if len(values["holder_id"]) > 32:
        raise HolderError(where, "holder_id", "must be at most 32 characters")
    return HolderRecord(
        index=index,
        name=_name(values["name"], where),
        holder_id=values["holder_id"],
        pan=_pan(values["pan"], where),
        expiry=_expiry(values["expiry"], where),
        card_id=_card_id(values["card_id"], where),
    )


def read_holders_text(text: str, source: str = "holders") -> Iterator[HolderRecord]:
    """Holder records of CSV ``text``, validated one by one (errors name row and column)."""
    table = parse_csv(text, source)
    header = table.header
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise HolderError(f"{source} header", unknown[0],
                          f"is not a holder column (known: {', '.join(COLUMNS)})")
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise HolderError(f"{source} header", missing[0], "is missing")
    seen: dict[tuple[str, str], int] = {}
    holder_lines: dict[str, int] = {}
    for index, (line, fields) in enumerate(table.rows):
        where = f"{source} row {index + 1}"
        if len(fields) > len(header):
            raise HolderError(where, "(extra)", "has more fields than the header")
        record = _record(index, dict(zip(header, fields, strict=False)), where)
        _once(holder_lines, record.holder_id, line, source)
        for column in ("pan", "card_id"):
            key = getattr(record, column)
            if key is not None and (column, key) in seen:
                raise HolderError(where, column, f"repeats row {seen[column, key]}")
            if key is not None:
                seen[column, key] = record.row
        yield record


def _once(lines: dict[str, int], holder_id: str, line: int, source: str) -> None:
    """A holder id twice in one file is refused, naming both lines (header = line 1)."""
    first = lines.setdefault(holder_id, line)
    if first != line:
        raise HolderError(f"{source} line {line}", "holder_id",
                          f"{holder_id!r} is already on line {first}: one card per holder "
                          "in a holders file")


def read_holders(path: str | Path) -> list[HolderRecord]:
    """All holder records of a CSV file."""
    return list(read_holders_text(read_text(path), str(path)))


def holder_from_json(text: str, index: int = 0, *,
                     require: tuple[str, ...] = ()) -> HolderRecord:
    """One holder record from a JSON object with the CSV's column names.

    ``pan`` and ``card_id`` may be left out: the number store allocates them. ``require``
    names columns that must be given all the same.
    """
    try:
        data = parse_json(text, "--holder")
    except DocumentError as exc:
        raise HolderError("--holder", "(json)", exc.reason) from None
    if not isinstance(data, dict):
        raise HolderError("--holder", "(json)", "must be a JSON object")
    unknown = [k for k in data if k not in COLUMNS]
    if unknown:
        raise HolderError("--holder", unknown[0],
                          f"is not a holder field (known: {', '.join(COLUMNS)})")
    record = _record(index, data, "--holder")
    for column in require:
        if getattr(record, column) is None:
            raise HolderError("--holder", column, "is required here")
    return record
