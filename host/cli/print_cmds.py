"""`dualcard print slip`: a merchant's slip as ESC/POS bytes or a PDF, to a file or a printer."""

from __future__ import annotations

import click

from ..slips import PrinterUnreachableError, Slip, SlipError, decode_escpos, encode_escpos, send
from .errors import cli_errors, register_error
from .exit_codes import ExitCode

__all__ = ["print_group"]

register_error(SlipError, ExitCode.USAGE)
register_error(PrinterUnreachableError, ExitCode.FAILURE)


@click.group("print")
def print_group() -> None:
    """The merchant's print module: order, delivery and sale slips."""


@print_group.command("slip")
@click.argument("order", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["escpos", "pdf"]), default="escpos",
              show_default=True, help="ESC/POS bytes (GB18030 text) for a receipt printer, or PDF")
@click.option("--to", "target", required=True, metavar="FILE|tcp:HOST[:PORT]",
              help="a file, or a network printer (raw TCP, port 9100 unless given)")
@click.option("--width", type=click.IntRange(24, 64), default=48, show_default=True,
              help="columns (48: 80 mm paper; 32: 58 mm)")
@click.option("--show", is_flag=True, help="also print the ESC/POS slip decoded, as text")
@cli_errors
def slip(order: str, fmt: str, target: str, width: int, show: bool) -> None:
    """[!] Print the slip of ORDER (a JSON slip: kind, merchant, order_id, holder, items,
    address, release)."""
    model = Slip.load(order)
    if fmt == "pdf":
        from ..slips.pdf import encode_pdf

        data = encode_pdf(model, width)
    else:
        data = encode_escpos(model, width)
        if show:
            click.echo("\n".join(decode_escpos(data)))
    where = send(data, target)
    click.echo(f"{model.kind.value} {model.order_id}: {len(data)} bytes of {fmt} to {where}")
