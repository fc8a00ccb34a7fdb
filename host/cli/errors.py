"""One place that turns library exceptions into one clear line and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from apdu_specs.errors import DualcardError, ProtocolError
from apdu_specs.sw import CardError

from ..transport.base import (
    NoCardError,
    NoReaderError,
    ReaderAmbiguousError,
    ReaderSpecError,
    TransportError,
)
from .exit_codes import ExitCode

__all__ = ["CLIError", "cli_errors", "exit_code_for"]

F = TypeVar("F", bound=Callable[..., Any])


class CLIError(click.ClickException, DualcardError):
    """A failure with a specific exit code; click prints ``Error: <message>``.

    The one dualcard error in neither branch: it reports any error, local or remote, and
    its exit code says which kind it was.
    """

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = int(code)  # type: ignore[misc]  # click declares one per class


_MAPPING: list[tuple[type[BaseException], ExitCode]] = [
    (ReaderSpecError, ExitCode.USAGE),
    (NoReaderError, ExitCode.NO_READER),
    (ReaderAmbiguousError, ExitCode.NO_READER),
    (NoCardError, ExitCode.NO_CARD),
    (CardError, ExitCode.CARD_ERROR),
    (TransportError, ExitCode.FAILURE),
    (ProtocolError, ExitCode.USAGE),
    (DualcardError, ExitCode.FAILURE),  # any other typed error: one line, never a traceback
]

_extra: list[tuple[type[BaseException], ExitCode]] = []


def register_error(exc_type: type[BaseException], code: ExitCode) -> None:
    """Let a command group map its own library errors (checked before the defaults)."""
    _extra.append((exc_type, code))


def exit_code_for(exc: BaseException) -> ExitCode | None:
    for exc_type, code in (*_extra, *_MAPPING):
        if isinstance(exc, exc_type):
            return code
    return None


def cli_errors(fn: F) -> F:
    """Decorator for commands: known errors become one line and their exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (OSError, ValueError, LookupError, RuntimeError) as exc:
            code = exit_code_for(exc)
            if code is None and not isinstance(exc, OSError | ValueError):
                raise
            raise CLIError(str(exc), code or ExitCode.FAILURE) from None
        except Exception as exc:
            code = exit_code_for(exc)
            if code is None:
                raise
            raise CLIError(str(exc), code) from None

    return wrapper  # type: ignore[return-value]
