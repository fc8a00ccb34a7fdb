"""Options shared by every command that talks to a card."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

__all__ = ["HexParam", "chip_option", "json_option", "reader_option", "trace_option"]


class HexParam(click.ParamType):
    """Hex in any common notation (spaces, colons, 0x, brackets)."""

    name = "hex"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bytes:
        if isinstance(value, bytes):
            return value
        try:
            return parse_hex(str(value), what=param.name if param and param.name else "hex")
        except HexError as exc:
            self.fail(str(exc), param, ctx)


HEX = HexParam()


def reader_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--reader", "-r", envvar="DUALCARD_READER", metavar="READER",
        help="pcsc:NAME | pcsc:#N | pcsc:re:REGEX | sim:IMAGE  [env DUALCARD_READER]")(fn)


def chip_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--chip", type=click.IntRange(1, 2), default=1, show_default=True,
                        help="chip 1 (consumption/credit) or chip 2 (value points)")(fn)


def trace_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--trace-format", type=click.Choice(["human", "json"]), default="human",
                      help="trace rendering: human lines or JSON Lines")(fn)
    return click.option("--trace", "-t", is_flag=True, envvar="DUALCARD_TRACE",
                        help="print every APDU exchanged (stderr; keys and PINs redacted)")(fn)


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True,
                        help="machine-readable JSON on stdout")(fn)
