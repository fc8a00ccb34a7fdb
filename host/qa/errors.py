"""Typed errors of the QA tools; each names the file and line it is about."""

from __future__ import annotations

from apdu_specs.errors import LocalError

__all__ = ["QAError", "ScriptSyntaxError", "TraceFormatError"]


class QAError(LocalError, ValueError):
    """Base of the QA tools' input errors (a ValueError, so the CLI maps it to usage)."""


class _Located(QAError):
    def __init__(self, message: str, *, source: str = "", line: int | None = None) -> None:
        self.source = source
        self.line = line
        where = source + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)


class ScriptSyntaxError(_Located):
    """A line of an APDU script that cannot be understood."""


class TraceFormatError(_Located):
    """A JSON Lines trace record that cannot be replayed."""
