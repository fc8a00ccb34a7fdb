"""The ``dualcard`` command: one group per user task, each a few lines over the library."""

from __future__ import annotations

import json
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from .exit_codes import HELP as EXIT_HELP
from .reader_cmds import apdu, doctor, readers

__all__ = ["cli", "main"]

#: command groups living in their own modules, imported only when used (fast start-up,
#: and the back office's database layer is never loaded for a card command)
LAZY_GROUPS = {
    "sim": ("host.cli.sim_cmds", "sim"),
    "points": ("host.cli.points_cmds", "points"),
    "gp": ("host.cli.gp_cmds", "gp"),
    "card": ("host.cli.card_cmds", "card"),
    "pay": ("host.cli.pay_cmds", "pay"),
    "stripe": ("host.cli.stripe_cmds", "stripe"),
    "perso": ("host.cli.perso_cmds", "perso"),
    "pos": ("host.cli.pos_cmds", "pos"),
    "ledger": ("host.cli.ledger_cmds", "ledger"),
    "prepaid": ("host.cli.prepaid_cmds", "prepaid"),
    "settle": ("host.cli.settle_cmds", "settle"),
    "host": ("host.cli.host_cmds", "host"),
    "portal": ("host.cli.portal_cmds", "portal"),
    "conformance": ("host.cli.qa_cmds", "conformance"),
    "script": ("host.cli.qa_cmds", "script"),
    "replay": ("host.cli.qa_cmds", "replay"),
    "trace": ("host.cli.trace_cmds", "trace"),
    "reader": ("host.cli.personal_reader_cmds", "reader"),
    "print": ("host.cli.print_cmds", "print_group"),
    "shop": ("host.cli.shop_cmds", "shop"),
    "hsm": ("host.cli.hsm_cmds", "hsm"),
}


class LazyGroup(click.Group):
    """Loads command groups on first use, and answers ``--json`` errors in JSON.

    With ``--json`` anywhere among a command's options, a failure prints
    ``{"error": "<message>"}`` on stdout (what ``dualcard ledger`` always did) as well as the
    ``Error:`` line on stderr, so a script parsing stdout never meets plain text.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = args[:args.index("--")] if "--" in args else args
        ctx.meta[_JSON_ERRORS] = "--json" in options
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            _json_error(ctx, exc.format_message())
            raise
        except click.Abort:
            _json_error(ctx, "aborted")
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_GROUPS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_GROUPS:
            module, attr = LAZY_GROUPS[cmd_name]
            return getattr(import_module(module), attr)
        return super().get_command(ctx, cmd_name)


_JSON_ERRORS = "dualcard.json_errors"


def _json_error(ctx: click.Context, message: str) -> None:
    if ctx.meta.get(_JSON_ERRORS):
        click.echo(json.dumps({"error": message}, ensure_ascii=False))


def _version() -> str:
    try:
        return version("dualcard")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0+unknown"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_HELP)
@click.version_option(_version(), "--version", "-V", prog_name="dualcard")
def cli() -> None:
    """dualcard — dual-chip loyalty/payment card toolkit.

    Commands marked [!] change a card or a ledger.
    """


cli.add_command(readers)
cli.add_command(apdu)
cli.add_command(doctor)


def main() -> None:
    cli(prog_name="dualcard")


if __name__ == "__main__":
    main()
