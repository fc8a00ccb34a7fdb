"""Reading the files a user names: the one place the CLI and the library open them.

A key file, a profile, a holder list, a trace, a script, a batch, a terminal
configuration: each is read here, at most :data:`~apdu_specs.documents.MAX_BYTES` bytes of
it, and decoded by :mod:`apdu_specs.documents`. A file that cannot be read, is too large,
is not UTF-8, is empty or does not parse raises
:class:`~apdu_specs.documents.DocumentError` naming the file, the line and what is wrong
(the CLI prints it as one line and exits 2, "bad input file").
"""

from __future__ import annotations

import os
from typing import Any

from apdu_specs.documents import (
    MAX_BYTES,
    CSVTable,
    DocumentError,
    csv_document,
    decode_text,
    json_document,
    parse_csv,
    parse_json,
    parse_toml,
    toml_document,
)

__all__ = ["CSVTable", "DocumentError", "parse_csv", "parse_json", "parse_toml", "read_bytes",
           "read_csv", "read_first_line", "read_json", "read_text", "read_toml"]

Path = str | os.PathLike[str]


def read_bytes(path: Path, *, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the file at ``path``, refused past ``limit`` (a device or a pipe too)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise DocumentError(str(path), f"larger than {limit} bytes")
    return data


def read_text(path: Path, *, empty_ok: bool = False) -> str:
    """The UTF-8 text of the file at ``path`` (not empty unless ``empty_ok``)."""
    return decode_text(read_bytes(path), str(path), empty_ok=empty_ok)


def read_json(path: Path, *, expect: type | None = None) -> Any:
    """The JSON value of the file at ``path`` (of type ``expect`` when given)."""
    return json_document(read_bytes(path), str(path), expect=expect)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML table of the file at ``path``."""
    return toml_document(read_bytes(path), str(path))


def read_csv(path: Path) -> CSVTable:
    """Header and rows (at least one) of the CSV file at ``path``."""
    return csv_document(read_bytes(path), str(path))


def read_first_line(path: Path, what: str) -> str:
    """The first line of the file at ``path``, stripped: a secret kept on a medium of its own.

    ``what`` names the secret in the error for an empty file; the secret itself is never
    part of an error message.
    """
    try:
        text = read_text(path, empty_ok=True)
    except DocumentError as exc:  # without the offending byte: it belongs to the secret
        raise DocumentError(str(path), exc.reason.split(":")[0], line=exc.line) from None
    first = text.splitlines()[0].strip() if text.strip() else ""
    if not first:
        raise DocumentError(str(path), f"is empty (expected the {what} on its first line)")
    return first
