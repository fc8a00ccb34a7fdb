"""`dualcard sim …`: simulated cards for QA — create, serve through vpcd, inspect, tear.

These commands load the simulator (card-side code); nothing else in ``host``
imports it except the in-process transport.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from apdu_specs.hexutil import to_hex
from apdu_specs.sw import describe

from .card_io import emit
from .errors import CLIError, cli_errors
from .exit_codes import ExitCode
from .options import json_option


@click.group("sim")
def sim() -> None:
    """Simulated dual-chip cards: images, the virtual reader, fault injection."""


@sim.command("new")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="card image file to write")
@click.option("--identity", default="blank", show_default=True, help="card identity label")
@click.option("--force", is_flag=True, help="overwrite an existing image")
@cli_errors
def new(out: Path, identity: str, force: bool) -> None:
    """Write a blank (unpersonalised) dual-chip card image."""
    from ..transport.sim import blank_card

    if out.exists() and not force:
        raise CLIError(f"{out} exists (use --force to overwrite)", ExitCode.USAGE)
    blank_card(identity).save(out)
    click.echo(f"blank dual-chip card written to {out}")


def _parse_tear(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        chip, writes = value.split(":")
        return int(chip), int(writes)
    except ValueError:
        raise click.BadParameter("expected CHIP:WRITES, e.g. 2:3", param_hint="--tear") from None


@sim.command("serve")
@click.option("--card", "card_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path), help="card image")
@click.option("--host", default="127.0.0.1", show_default=True, help="where vpcd listens")
@click.option("--port", default=35963, show_default=True,
              help="vpcd port of slot 00 (chip 1); chip 2 uses the next one")
@click.option("--trace", is_flag=True, help="log every APDU to stderr")
@click.option("--tear", metavar="CHIP:WRITES",
              help="fault injection: cut chip CHIP's power after WRITES persistent writes")
@click.option("--no-save", is_flag=True, help="do not write the image back on shutdown")
@click.option("--start-pcscd", is_flag=True,
              help="start pcscd (root only) if it is not running; it keeps running afterwards")
@cli_errors
def serve(card_path: Path, host: str, port: int, trace: bool, tear: str | None,
          no_save: bool, start_pcscd: bool) -> None:
    """Connect the card's chips to vpcd: chip 1 → slot 00, chip 2 → slot 01.

    Any PC/SC program then sees the card ('Virtual PCD 00 00' / '00 01').
    SIGUSR1 pulls the card out / puts it back; SIGINT or SIGTERM stop and save.
    """
    from simulator.card import SimulatedCard
    from simulator.vpcd.bridge import serve_card

    if start_pcscd:
        _start_pcscd()
    card = SimulatedCard.load(card_path)
    torn = _parse_tear(tear)
    if torn:
        card.tear(*torn)
    stop = threading.Event()

    def on_apdu(slot: int, cmd: bytes, resp: bytes, seconds: float) -> None:
        sw = int.from_bytes(resp[-2:], "big") if len(resp) >= 2 else 0
        click.echo(f"chip{slot + 1} >> {to_hex(cmd)}\nchip{slot + 1} << {to_hex(resp[:-2])} "
                   f"{sw:04X} ({describe(sw)}) {seconds * 1000:.2f} ms", err=True)

    def on_connection(slot: int, attached: bool) -> None:
        click.echo(f"chip{slot + 1}: {'attached to' if attached else 'detached from'} vpcd",
                   err=True)

    _handle_signals(card, stop)
    click.echo(f"serving {card.identity} on vpcd {host}:{port} (chip 1) and {host}:{port + 1} "
               "(chip 2); Ctrl-C to stop", err=True)
    try:
        serve_card([card.chip1, card.chip2], host, port, trace=on_apdu if trace else None,
                   present=lambda: card.inserted, on_connection=on_connection, stop_event=stop)
    finally:
        if not no_save:
            card.save(card_path)
            click.echo(f"card image saved to {card_path}", err=True)


def _handle_signals(card: Any, stop: threading.Event) -> None:
    """SIGINT and SIGTERM stop serving (the card is saved); SIGUSR1 pulls the card out or
    puts it back."""
    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    def toggle(signum: int, frame: Any) -> None:
        if card.inserted:
            card.remove()
            click.echo("card pulled out", err=True)
        else:
            card.insert()
            click.echo("card inserted", err=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, toggle)


def _start_pcscd() -> None:
    """pcscd with the vpcd driver, as ``make vpcd`` starts it (exit 3 when it cannot run)."""
    from ..testing.pcscd import PCSCD_LOG, PCSCStackUnavailable, start_pcscd

    try:
        _, started = start_pcscd()
    except PCSCStackUnavailable as exc:
        raise CLIError(f"cannot start pcscd: {exc}", ExitCode.NO_READER) from None
    if started:
        click.echo(f"pcscd started (log {PCSCD_LOG})", err=True)


@sim.command("info")
@click.option("--card", "card_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@cli_errors
def info(card_path: Path, as_json: bool) -> None:
    """What is on each chip of an image (applications and life cycle states)."""
    from apdu_specs.commands.gp_extra import app_state_name, card_state_name
    from simulator.card import SimulatedCard

    card = SimulatedCard.load(card_path)
    out: dict[str, Any] = {"identity": card.identity, "chips": {}}
    for role, rt in card.runtimes().items():
        content = rt.chip.content
        out["chips"][role] = {
            "atr": to_hex(rt.atr),
            "card_state": card_state_name(content.card_state),
            "applications": [{"aid": to_hex(r.aid), "state": app_state_name(r.state),
                              "security_domain": r.is_security_domain}
                             for r in content.records()],
        }
    lines = [f"card {out['identity']}"]
    for role, c in out["chips"].items():
        lines.append(f"{role}: ATR {c['atr']}  life cycle {c['card_state']}")
        lines += [f"  {a['aid']}  {a['state']}{'  (security domain)' if a['security_domain'] else ''}"
                  for a in c["applications"]]
    emit(out, as_json, "\n".join(lines))
    sys.stdout.flush()
