"""Typed reading of a parsed TOML/JSON table, with errors that name the field's full path.

Every getter checks the type and range and raises :class:`ProfileError` with the dotted
path (``chip1.applications[2].aid``); :meth:`Table.done` rejects fields nobody read, so a
typo in a profile is an error instead of a silently ignored setting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import ProfileError

__all__ = ["MISSING", "Table"]

MISSING: Any = object()


class Table:
    """A view of one table of a parsed document, remembering where it is."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        if not isinstance(data, dict):
            raise ProfileError(path or "(top)", "must be a table", source=source)
        self._data = data
        self._path = path
        self._source = source
        self._seen: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def error(self, key: str, message: str) -> ProfileError:
        return ProfileError(self.field(key), message, source=self._source)

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str, default: Any = MISSING) -> Any:
        self._seen.add(key)
        if key not in self._data:
            if default is MISSING:
                raise self.error(key, "is required")
            return default
        return self._data[key]

    def text(self, key: str, default: Any = MISSING, *, max_length: int = 200) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "must be non-empty text")
        if len(value) > max_length:
            raise self.error(key, f"must be at most {max_length} characters")
        return value.strip()

    def digits(self, key: str, lengths: range, default: Any = MISSING) -> str:
        value = self.raw(key, default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.isascii() or not value.isdigit() \
                or len(value) not in lengths:
            raise self.error(key, f"must be {_span(lengths)} decimal digits (as text)")
        return value

    def integer(self, key: str, low: int, high: int, default: Any = MISSING) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be a whole number")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self, key: str, default: Any = MISSING) -> bool:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def hex(self, key: str, lengths: range, default: Any = MISSING) -> bytes:
        value = self.raw(key, default)
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise self.error(key, "must be hex text")
        try:
            raw = bytes.fromhex(value.replace(" ", ""))
        except ValueError:
            raise self.error(key, "must be hex text") from None
        if len(raw) not in lengths:
            raise self.error(key, f"must be {_span(lengths)} bytes, got {len(raw)}")
        return raw

    def choice(self, key: str, options: dict[str, Any], default: Any = MISSING) -> Any:
        value = self.raw(key, default)
        if isinstance(value, str) and value.strip().lower() in options:
            return options[value.strip().lower()]
        if not isinstance(value, str) and value in options.values():
            return value
        raise self.error(key, f"must be one of {', '.join(options)}, got {value!r}")

    def table(self, key: str, *, required: bool = False) -> Table:
        value = self.raw(key, MISSING if required else {})
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return Table(value, self.field(key), self._source)

    def tables(self, key: str) -> Iterator[Table]:
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise self.error(key, "must be an array of tables ([[...]])")
        for i, item in enumerate(value):
            yield Table(item, f"{self.field(key)}[{i}]", self._source)

    def items(self) -> Iterator[tuple[str, Any]]:
        for key, value in self._data.items():
            self._seen.add(key)
            yield key, value

    def done(self) -> None:
        """Raise for the first field nobody read (a typo, or a setting in the wrong place)."""
        for key in self._data:
            if key not in self._seen:
                raise self.error(key, "is not a known setting here")


def _span(lengths: range) -> str:
    low, high = lengths.start, lengths.stop - 1
    return str(low) if low == high else f"{low} to {high}"
