"""Untrusted text documents (JSON, TOML, CSV, plain text) decoded within limits.

Every file a user hands to dualcard — key files, profiles, holder lists, batches, traces,
scripts, configurations, card images — is decoded by these functions and by no others,
so every one fails the same way: one :class:`DocumentError` whose message names the
document, the line and what is wrong (``holders.csv:3: a field is longer than 131072
characters``), never a ``UnicodeDecodeError``, a ``RecursionError`` or a ``_csv.Error``.

Bytes in, values out: opening the file is the caller's (:mod:`host.files` for the host,
the simulator's card images), so this module stays free of I/O like the rest of the
package. The limits:

- a document holds at most :data:`MAX_BYTES` bytes of UTF-8 text (a leading byte order
  mark is allowed); a document of nothing but white space is empty, and an error;
- JSON and TOML nest at most :data:`MAX_DEPTH` levels. JSON is checked before parsing by
  counting brackets outside strings, so a hostile file cannot exhaust the interpreter's
  stack; TOML (whose strings are harder to skip) is checked on the parsed value, and a
  parser stack overflow is reported the same way;
- a CSV field holds at most :data:`MAX_FIELD` characters, and a CSV document has a
  header and at least one row.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from .errors import ProtocolError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_FIELD",
    "CSVTable",
    "DocumentError",
    "check_size",
    "csv_document",
    "decode_text",
    "json_document",
    "parse_csv",
    "parse_json",
    "parse_toml",
    "toml_document",
]

MAX_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_FIELD = 131_072  # csv's own default limit (the csv module enforces its own as well)

_TYPE_NAMES: dict[type, str] = {dict: "a JSON object", list: "a JSON array", str: "a JSON string"}
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]')


class DocumentError(ProtocolError):
    """A document that cannot be used, as ``source:line: reason`` (line when known)."""

    def __init__(self, source: str, reason: str, *, line: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        super().__init__(f"{source}:{line}: {reason}" if line else f"{source}: {reason}")


def check_size(data: bytes, source: str, limit: int = MAX_BYTES) -> bytes:
    """``data`` unless it is longer than ``limit`` bytes."""
    if len(data) > limit:
        raise DocumentError(source, f"larger than {limit} bytes")
    return data


def decode_text(data: bytes, source: str, *, empty_ok: bool = False,
                limit: int = MAX_BYTES) -> str:
    """UTF-8 ``data`` as text (without a byte order mark); empty text only if ``empty_ok``."""
    check_size(data, source, limit)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DocumentError(source, "is UTF-16 or UTF-32 text (byte order mark); save it as "
                                    "UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DocumentError(source, f"not UTF-8 text: byte 0x{data[exc.start]:02X} at offset "
                                    f"{exc.start}", line=line) from None
    if not empty_ok and not text.strip():
        raise DocumentError(source, "is empty")
    return text


# --- JSON -------------------------------------------------------------------------------------


def _check_json_depth(text: str, source: str, line: int | None) -> None:
    """Refuse nesting deeper than MAX_DEPTH without parsing (no recursion at all)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                where = (line or 1) + text.count("\n", 0, match.start())
                raise DocumentError(source, f"nested deeper than {MAX_DEPTH} levels", line=where)
        elif token in "]}":
            depth -= 1


def parse_json(text: str, source: str, *, line: int | None = None,
               expect: type | None = None) -> Any:
    """The JSON value of ``text``; ``line`` numbers a JSON Lines record, ``expect`` the type
    the value must have (``dict``, ``list``)."""
    _check_json_depth(text, source, line)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = (line or 1) + exc.lineno - 1
        raise DocumentError(source, f"not JSON: {exc.msg} (column {exc.colno})", line=at) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise DocumentError(source, f"not usable JSON: {exc}", line=line) from None
    if expect is not None and not isinstance(value, expect):
        raise DocumentError(source, f"must be {_TYPE_NAMES.get(expect, expect.__name__)}, not "
                                    f"{_json_type(value)}", line=line)
    return value


def _json_type(value: Any) -> str:
    for kind, name in _TYPE_NAMES.items():
        if isinstance(value, kind):
            return name
    return "null" if value is None else f"a JSON {type(value).__name__}"


def json_document(data: bytes, source: str, *, expect: type | None = None) -> Any:
    """The JSON value of a whole document's bytes."""
    return parse_json(decode_text(data, source), source, expect=expect)


# --- TOML -------------------------------------------------------------------------------------


def _too_deep(value: Any) -> bool:
    """True when ``value`` nests deeper than MAX_DEPTH (iterative: no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """The table of TOML ``text``."""
    try:
        value = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DocumentError(source, f"not TOML: {exc}") from None
    except RecursionError:
        value = None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise DocumentError(source, f"not usable TOML: {exc}") from None
    if value is None or _too_deep(value):
        raise DocumentError(source, f"nested deeper than {MAX_DEPTH} levels")
    return value


def toml_document(data: bytes, source: str) -> dict[str, Any]:
    """The table of a whole TOML document's bytes."""
    return parse_toml(decode_text(data, source), source)


# --- CSV --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CSVTable:
    """A CSV document: its header and its rows, each with the line it starts on."""

    header: list[str]
    rows: list[tuple[int, list[str]]]


def parse_csv(text: str, source: str) -> CSVTable:
    """Header (stripped) and rows of CSV ``text``; blank lines are skipped, rows are required."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if any(len(field) > MAX_FIELD for field in row):
                raise csv.Error("field larger than field limit")
            if row:
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DocumentError(source, _csv_reason(exc), line=reader.line_num or 1) from None
    if not rows:
        raise DocumentError(source, "is empty (no CSV header)")
    if len(rows) == 1:
        raise DocumentError(source, "has a header but no rows", line=rows[0][0])
    return CSVTable([h.strip() for h in rows[0][1]], rows[1:])


def _csv_reason(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return f"a field is longer than {min(MAX_FIELD, csv.field_size_limit())} characters"
    return f"not CSV: {text}"


def csv_document(data: bytes, source: str) -> CSVTable:
    """Header and rows of a whole CSV document's bytes."""
    return parse_csv(decode_text(data, source), source)
