"""Where a secret (a passphrase, a key component) comes from — never the command line.

In order: a file named by an option (first line, for secrets kept on a removable
medium), an environment variable, then an interactive prompt with hidden input. The
prompt is injected (the CLI passes ``click.prompt(hide_input=True)``), so the library
never touches a terminal and tests supply their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

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

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        return read_secret(self, environ)


def read_secret(source: SecretSource, environ: Mapping[str, str] | None = None) -> str:
    """The secret from ``source``'s file, environment variable or prompt (first available)."""
    environ = os.environ if environ is None else environ
    if source.file is not None:
        try:
            lines = source.file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise KeyStoreError(f"cannot read {source.label} from {source.file}: "
                                f"{exc.strerror}") from None
        if not lines or not lines[0].strip():
            raise KeyStoreError(f"{source.file} is empty (expected the {source.label})")
        return lines[0].strip()
    if source.env and environ.get(source.env):
        return environ[source.env].strip()
    if source.prompt is not None:
        value = source.prompt(source.label).strip()
        if value:
            return value
    where = f"set ${source.env}, " if source.env else ""
    raise KeyStoreError(f"no {source.label}: {where}give a file, or run interactively")


def parse_secret_hex(text: str, what: str) -> bytes:
    """Hex (spaces and colons allowed) as bytes; the error never repeats the text."""
    try:
        return parse_hex(text, what=what)
    except HexError:
        raise KeyStoreError(f"{what} is not hex") from None
