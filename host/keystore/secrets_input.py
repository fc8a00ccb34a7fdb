"""Where a secret (a passphrase, a key component) comes from — never the command line.

In order: a file named by an option (first line, for secrets kept on a removable
medium), an environment variable, then an interactive prompt with hidden input. The
first source given is the only one used: a variable that is set is never followed by a
prompt (an answer typed there would be ignored), and a variable that is set but empty is
an error rather than a silent fall-through. Taking a secret from the environment is
announced through ``notice``, so an operator who meant to type it learns where it came
from. The prompt and the notice are injected (the CLI passes ``click.prompt`` with hidden
input, and only when a terminal can answer), so the library never touches a terminal and
tests supply their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

from ..files import read_first_line
from .errors import KeyStoreError

__all__ = ["SecretSource", "parse_secret_hex", "read_secret"]

Prompt = Callable[[str], str]


@dataclass(frozen=True)
class SecretSource:
    """How to obtain one secret; ``label`` names it in prompts and errors."""

    label: str
    env: str | None = None
    file: Path | None = None
    prompt: Prompt | None = None
    notice: Callable[[str], None] | None = None

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        return read_secret(self, environ)


def read_secret(source: SecretSource, environ: Mapping[str, str] | None = None) -> str:
    """The secret from ``source``'s file, environment variable or prompt (first available)."""
    environ = os.environ if environ is None else environ
    if source.file is not None:
        return read_first_line(source.file, source.label)
    if source.env and source.env in environ:
        value = environ[source.env].strip()
        if not value:
            raise KeyStoreError(f"${source.env} is set but empty (expected the {source.label})")
        if source.notice is not None:
            source.notice(f"using the {source.label} in ${source.env}")
        return value
    if source.prompt is not None:
        value = source.prompt(source.label).strip()
        if value:
            return value
        raise KeyStoreError(f"no {source.label}: the answer was empty")
    where = f"set ${source.env} or " if source.env else ""
    raise KeyStoreError(f"no {source.label}, and no terminal to ask for it: {where}give a file")


def parse_secret_hex(text: str, what: str) -> bytes:
    """Hex (spaces and colons allowed) as bytes; the error never repeats the text."""
    try:
        return parse_hex(text, what=what)
    except HexError:
        raise KeyStoreError(f"{what} is not hex") from None
