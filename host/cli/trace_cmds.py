"""`dualcard trace …`: read APDU traces back (a few lines over :mod:`host.qa.trace`).

``trace decode`` reads what ``--trace`` wrote (human lines or JSON Lines, even mixed)
and prints every command by name with its fields, every answer with its fields and the
meaning of its status word; with ``--keys`` it undoes GlobalPlatform secure messaging.
A line that is not a trace line stops it with one line naming the file and line (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..gp.errors import KeySpecError
from ..qa.errors import QAError
from .card_io import emit
from .errors import cli_errors, register_error
from .exit_codes import ExitCode
from .gp_cmds import resolver_from
from .options import json_option
from .qa_cmds import extra_specs

__all__ = ["trace"]

register_error(QAError, ExitCode.USAGE)  # a trace that cannot be read
register_error(KeySpecError, ExitCode.USAGE)


@click.group("trace")
def trace() -> None:
    """APDU traces (what --trace writes): decode them."""


@trace.command("decode")
@click.argument("trace_file", metavar="FILE",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--keys", "key_specs", multiple=True, metavar="SPEC",
              help="security domain keys to undo secure messaging with, tried in turn "
                   "(repeat for several): default | env:NAME | file:PATH#ENTRY | prompt | "
                   "NAME, optionally emv:/visa2:/kdf3:")
@click.option("--key-file", envvar="DUALCARD_KEY_FILE", metavar="PATH",
              type=click.Path(dir_okay=False),
              help="TOML key file for bare key names [env DUALCARD_KEY_FILE]")
@click.option("--specs", "spec_modules", multiple=True, metavar="MODULE[:NAME]",
              help="also know the command specs in this module (all CommandSpec objects, or "
                   "the sequence NAME), e.g. an applet's own commands")
@json_option
@cli_errors
def decode(trace_file: Path, key_specs: tuple[str, ...], key_file: str | None,
           spec_modules: tuple[str, ...], as_json: bool) -> None:
    """Decode a trace: commands by name, fields, status words (keys never shown)."""
    from host.qa.trace import decode_trace, load_trace_lines, render_text, to_json

    specs = extra_specs(spec_modules)
    resolver = resolver_from(key_file)
    keys = [resolver.parse(spec) for spec in key_specs]
    items = decode_trace(load_trace_lines(trace_file), keys, source=str(trace_file),
                         specs=specs)
    if as_json:
        emit([to_json(item) for item in items], as_json=True)
        return
    lines = list(render_text(items))  # every line is read before any is printed
    click.echo("\n".join(lines))
