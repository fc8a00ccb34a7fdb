"""Asking the operator: only where someone can answer, and saying where an answer came from.

Without a terminal a hidden prompt would fall back to reading standard input behind a
``GetPassWarning`` and end in ``Aborted!``; instead the secret sources get no prompt, and
their error says which variable or file to give (exit 2).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from .errors import CLIError
from .exit_codes import ExitCode

__all__ = ["ask", "hidden_prompt", "interactive", "notice"]


def interactive() -> bool:
    """True when a person can answer: standard input is a terminal, or the program running
    the CLI supplies standard input itself (click's test runner does)."""
    stdin = sys.stdin
    return stdin is not None and (stdin.isatty() or stdin is not sys.__stdin__)


def hidden_prompt(*, confirm: bool = False) -> Callable[[str], str] | None:
    """A prompt with hidden input (typed twice with ``confirm``), or None without a terminal."""
    if not interactive():
        return None

    def ask(label: str) -> str:
        return str(click.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True))

    return ask


def ask(label: str, instead: str) -> str:
    """A visible prompt; without a terminal, exit 2 naming the option to give ``instead``."""
    if not interactive():
        raise CLIError(f"{label}: no terminal to ask for it; give {instead}", ExitCode.USAGE)
    return str(click.prompt(label, err=True))


def notice(message: str) -> None:
    """One line for the operator on stderr (never on stdout, which may carry --json)."""
    click.echo(message, err=True)
