"""`dualcard readers`, `dualcard apdu`, `dualcard doctor`: the reader-level tools."""

from __future__ import annotations

import sys
import time

import click

from apdu_specs.hexutil import to_hex
from apdu_specs.sw import describe

from ..connect import open_card
from ..transport.base import NoCardError, NoReaderError, TransportFailure
from .card_io import emit
from .errors import CLIError, cli_errors
from .exit_codes import ExitCode
from .options import HEX, chip_option, json_option, reader_option, trace_option


@click.command("readers")
@click.option("--wait", "wait_for", metavar="READER",
              help="first wait until READER holds a card (both slots of a dual-slot name, "
                   "e.g. 'pcsc:Virtual PCD'); exit 4 if none comes")
@click.option("--timeout", type=click.FloatRange(0), default=30.0, show_default=True,
              help="seconds --wait waits")
@json_option
@cli_errors
def readers(wait_for: str | None, timeout: float, as_json: bool) -> None:
    """List the PC/SC readers, each with the ATR of the card in it (or "no card"); with
    --wait, once the card is in the one named."""
    from ..transport.pcsc import pcsc_reader_atrs

    if wait_for is not None:
        _wait_for_card(wait_for, timeout)
    found = pcsc_reader_atrs()
    lines = [f"{name}  {'ATR ' + to_hex(atr) if atr is not None else '(no card)'}"
             for name, atr in found]
    emit({"readers": [{"name": name, "atr": None if atr is None else to_hex(atr)}
                      for name, atr in found]},
         as_json, "\n".join(lines) if lines else "no PC/SC reader attached")


def _wait_for_card(reader: str, timeout: float) -> None:
    """Poll until the card in ``reader`` answers a connect (a script's "insert the card").

    Whatever the reader stack says meanwhile — no pcscd yet, no reader yet, no card, a card
    still settling in — is tried again; only the last answer counts.
    """
    from ..transport.pcsc import PCSCUnavailableError

    deadline = time.monotonic() + timeout
    while True:
        try:
            with open_card(reader):
                return
        except PCSCUnavailableError:
            raise
        except (NoCardError, NoReaderError, TransportFailure):
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.1)


@click.command("apdu")
@reader_option
@chip_option
@trace_option
@click.option("--expect-sw", "expect", multiple=True, type=HEX,
              help="fail (exit 6) unless the SW is one of these (repeatable)")
@click.option("--save/--no-save", default=False,
              help="for sim:IMAGE readers, write the image back afterwards")
@click.argument("apdus", nargs=-1, required=True, type=HEX)
@json_option
@cli_errors
def apdu(reader: str | None, chip: int, trace: bool, trace_format: str, expect: tuple[bytes, ...],
         save: bool, apdus: tuple[bytes, ...], as_json: bool) -> None:
    """[!] Send raw APDUs to one chip and print the answers."""
    results = []
    wanted = {int.from_bytes(e, "big") for e in expect}
    with open_card(reader, chips=(chip,), trace=sys.stderr if trace else None,
                   trace_format=trace_format, save_on_exit=save) as link:
        t = link.chip(chip)
        for cmd in apdus:
            resp = t.transmit(cmd)
            sw = int.from_bytes(resp[-2:], "big")
            results.append({"command": to_hex(cmd), "data": to_hex(resp[:-2]),
                            "sw": f"{sw:04X}", "meaning": describe(sw)})
            if wanted and sw not in wanted:
                emit(results, as_json, "\n".join(_line(r) for r in results))
                raise CLIError(f"{to_hex(cmd)}: SW {sw:04X} ({describe(sw)}) is not expected",
                               ExitCode.CARD_ERROR)
    emit(results, as_json, "\n".join(_line(r) for r in results))


def _line(r: dict[str, str]) -> str:
    return f"{r['data']} {r['sw']}  ({r['meaning']})".lstrip()


@click.command("doctor")
@json_option
def doctor(as_json: bool) -> None:
    """Check the virtual-reader stack (pcscd, vpcd, ports) and say what to fix."""
    from ..transport.doctor import doctor_checks

    checks = doctor_checks()
    if as_json:
        emit([{"name": c.name, "ok": c.ok, "detail": c.detail, "fix": c.fix_hint}
              for c in checks], True)
    else:
        for c in checks:
            mark = "ok  " if c.ok else "FAIL"
            click.echo(f"{mark} {c.name}: {c.detail}" + ("" if c.ok or not c.fix_hint
                                                          else f" — {c.fix_hint}"))
    if not all(c.ok for c in checks):
        sys.exit(ExitCode.FAILURE)
