"""Small output helpers shared by CLI commands (JSON or human text, never both)."""

from __future__ import annotations

import json
from typing import Any

import click

__all__ = ["emit"]


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex().upper()
    if hasattr(value, "__dict__"):
        return vars(value)
    return str(value)


def emit(data: Any, as_json: bool, human: str | None = None) -> None:
    """Print ``data`` as JSON, or the human rendering."""
    if as_json:
        click.echo(json.dumps(data, default=_default, indent=2, sort_keys=True))
    else:
        click.echo(human if human is not None else str(data))
