"""`dualcard conformance`, `dualcard script run`, `dualcard replay`: QA against any reader.

Each is a few lines over :mod:`host.qa`; all three exit 6 when the card's answers are
not what was expected (exit codes in ``dualcard --help``).
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click

from apdu_specs.hexutil import to_hex
from apdu_specs.sw import describe

from ..connect import CardLink, open_card
from ..qa.errors import QAError
from ..transport.base import Transport
from ..transport.reader_uri import SimAddress, parse_reader_uri
from ..transport.t0 import T0Transport
from .card_io import emit
from .errors import CLIError, cli_errors, register_error
from .exit_codes import ExitCode
from .options import json_option, reader_option, trace_option

__all__ = ["conformance", "extra_specs", "replay", "script"]

register_error(QAError, ExitCode.USAGE)  # a script or trace that cannot be read


def _open(reader: str | None, chips: tuple[int, ...], trace: bool,
          trace_format: str) -> AbstractContextManager[CardLink]:
    return open_card(reader, chips=chips, trace=sys.stderr if trace else None,
                     trace_format=trace_format)


def _raw(transports: dict[int, Transport]) -> dict[int, Transport]:
    """The transports without GET RESPONSE/6Cxx completion (scripts and traces hold those steps)."""
    return {n: t.inner if isinstance(t, T0Transport) else t for n, t in transports.items()}


def _is_sim(reader: str | None) -> bool:
    return reader is not None and isinstance(parse_reader_uri(reader), SimAddress)


# --- conformance ---------------------------------------------------------------------------


def _aid_option(values: tuple[str, ...]) -> dict[str, tuple[bytes, ...]]:
    from apdu_specs.errors import HexError
    from apdu_specs.hexutil import parse_hex

    out: dict[str, tuple[bytes, ...]] = {}
    for value in values:
        name, sep, aid = value.partition("=")
        try:
            if not sep or not name:
                raise HexError("")
            out[name.strip()] = (*out.get(name.strip(), ()), parse_hex(aid, what="AID"))
        except HexError:
            raise click.BadParameter(f"{value!r}: expected APPLICATION=AID, e.g. "
                                     "purse=F0000000020101", param_hint="--aid") from None
    return out


@click.command("conformance")
@reader_option
@click.option("--chip", "chips", multiple=True, type=click.IntRange(1, 2),
              help="test only this chip (repeatable; default both)")
@click.option("--keys", metavar="SPEC",
              help="ISD key spec for the secure-channel cases (e.g. default, env:NAME, "
                   "file:PATH#ENTRY); without it they are skipped")
@click.option("--destructive/--no-destructive", default=None,
              help="run the cases that use up tries or change content "
                   "[default: only for sim: readers]")
@click.option("--terminate", is_flag=True,
              help="[!] finally TERMINATE each chip and check it refuses everything (6985); "
                   "irreversible on a real card")
@click.option("--yes", is_flag=True, help="do not ask before terminating a real card")
@click.option("--aid", "aids", multiple=True, metavar="APP=AID",
              help="another AID for an application (gp, payment, purse), tried first")
@click.option("--specs", "spec_modules", multiple=True, metavar="MODULE[:NAME]",
              help="also test the command specs in this module (all CommandSpec objects, or "
                   "the sequence NAME), e.g. an applet's own commands")
@click.option("--application", "-a", "only", multiple=True, metavar="NAME",
              help="test only these applications' commands (repeatable)")
@click.option("--junit", "junit", type=click.Path(dir_okay=False, path_type=Path),
              help="write a JUnit XML report to this file")
@trace_option
@json_option
@cli_errors
def conformance(reader: str | None, chips: tuple[int, ...], keys: str | None,
                destructive: bool | None, terminate: bool, yes: bool, aids: tuple[str, ...],
                spec_modules: tuple[str, ...], only: tuple[str, ...], junit: Path | None,
                trace: bool, trace_format: str, as_json: bool) -> None:
    """Run the conformance suite generated from the command specs against a card.

    Prints one row per command (cases passed, failed, skipped); exits 6 if any failed.
    """
    from apdu_specs.commands import all_specs
    from host.gp import parse_key_spec
    from host.qa.conformance import ConformanceSuite, summary_line, table, write_junit
    from host.qa.conformance.applications import with_aids
    from host.qa.conformance.secure import gp_secure_opener, gp_terminator

    sim = _is_sim(reader)
    allow = sim if destructive is None else destructive
    key_spec = parse_key_spec(keys) if keys else None
    if terminate:
        if key_spec is None:
            raise CLIError("--terminate needs --keys (SET STATUS runs in a secure channel)",
                           ExitCode.USAGE)
        if not sim and not yes:
            click.confirm(f"Terminate the card in {reader}? It can never be used again",
                          abort=True, err=True)
        allow = True
    applications = with_aids(_aid_option(aids))
    specs = [s for s in (*all_specs(), *extra_specs(spec_modules))
             if not only or s.application in only]
    if only:
        applications = {name: app for name, app in applications.items() if name in only}
    with _open(reader, tuple(sorted(set(chips))) or (1, 2), trace, trace_format) as link:
        suite = ConformanceSuite(
            link.transports, applications=applications, specs=specs, destructive=allow,
            secure_opener=gp_secure_opener(key_spec) if key_spec else None,
            terminate=gp_terminator(link.transports, key_spec) if terminate and key_spec else None)
        result = suite.run()
    if junit is not None:
        write_junit(result, junit)
    emit([_result_json(r) for r in result.results], as_json,
         table(result) + "\n" + summary_line(result))
    if not result.ok:
        raise CLIError(summary_line(result), ExitCode.CARD_ERROR)


def extra_specs(modules: tuple[str, ...]) -> list[Any]:
    """Command specs from ``module`` or ``module:NAME`` (imported like any Python module)."""
    from importlib import import_module

    from apdu_specs.commands.spec import CommandSpec

    out: list[Any] = []
    for item in modules:
        name, _, attr = item.partition(":")
        try:
            module = import_module(name)
        except ImportError as exc:
            raise CLIError(f"--specs {item}: cannot import {name}: {exc}", ExitCode.USAGE) from None
        found = getattr(module, attr, None) if attr else [
            v for v in vars(module).values() if isinstance(v, CommandSpec)]
        specs = [found] if isinstance(found, CommandSpec) else list(found or ())
        if not specs or not all(isinstance(s, CommandSpec) for s in specs):
            raise CLIError(f"--specs {item}: no command specs there", ExitCode.USAGE)
        out += [s for s in specs if s not in out]
    return out


def _result_json(item: Any) -> dict[str, Any]:
    return {"command": item.case.command_name, "kind": str(item.case.kind),
            "title": item.case.title, "where": str(item.target) if item.target else None,
            "outcome": str(item.outcome), "apdu": to_hex(item.case.command),
            "response": to_hex(item.response), "detail": item.detail}


# --- scripts -------------------------------------------------------------------------------


@click.group("script")
def script() -> None:
    """APDU scripts (pcsc-tools scriptor style, with optional expected answers)."""


@script.command("run")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reader_option
@click.option("--chip", type=click.IntRange(1, 2), default=1, show_default=True,
              help="the chip the script starts on ('chip N' lines switch)")
@click.option("--keep-going", is_flag=True, help="do not stop at the first mismatch")
@click.option("--raw", is_flag=True,
              help="show 61xx/6Cxx as the card sends them (the script does GET RESPONSE)")
@trace_option
@json_option
@cli_errors
def script_run(path: Path, reader: str | None, chip: int, keep_going: bool, raw: bool,
               trace: bool, trace_format: str, as_json: bool) -> None:
    """[!] Send the APDUs of a script to the card; exit 6 if an answer is not as expected."""
    from host.qa.script import ScriptResult, read_script, run_steps

    parsed = read_script(path)
    result = ScriptResult(parsed)
    with _open(reader, parsed.chips(chip), trace, trace_format) as link:
        transports = _raw(link.transports) if raw else link.transports
        for step in run_steps(parsed, transports, chip=chip, keep_going=keep_going):
            result.steps.append(step)
            if not as_json:
                click.echo(_step_text(step))
    if as_json:
        emit([_step_json(s) for s in result.steps], True)
    verdict = (f"{len(result.mismatches)} of {result.checked} checked answers differ"
               if result.mismatches else f"ok: {result.checked} checked answers as expected")
    if result.mismatches:
        raise CLIError(f"{path}: {verdict}", ExitCode.CARD_ERROR)
    if not as_json:
        click.echo(verdict)


def _step_text(step: Any) -> str:
    from host.qa.script import ChipSwitch, Reset

    where = f"{step.step.line:>4} chip{step.chip}"
    if isinstance(step.step, ChipSwitch):
        return f"{where}  -- now talking to chip {step.chip}"
    if isinstance(step.step, Reset):
        return f"{where}  -- reset  ATR {to_hex(step.response)}"
    sw = int.from_bytes(step.response[-2:], "big")
    answer = f"{to_hex(step.response[:-2])} {sw:04X}".lstrip()
    status = "" if not step.checked else ("  ok" if step.ok else f"  MISMATCH: {step.problem}")
    return f"{where}  >> {to_hex(step.step.apdu)}\n{'':>10}  << {answer}  ({describe(sw)}){status}"


def _step_json(step: Any) -> dict[str, Any]:
    from host.qa.script import Command

    out: dict[str, Any] = {"line": step.step.line, "chip": step.chip,
                           "kind": type(step.step).__name__.lower()}
    if isinstance(step.step, Command):
        out.update(command=to_hex(step.step.apdu), response=to_hex(step.response),
                   expected=str(step.step.expect) if step.step.expect else None,
                   ok=step.ok, problem=step.problem or None)
    elif step.response:
        out["atr"] = to_hex(step.response)
    return out


# --- replay --------------------------------------------------------------------------------


@click.command("replay")
@click.argument("trace_file", metavar="TRACE",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reader_option
@click.option("--chip", type=click.IntRange(1, 2), default=1, show_default=True,
              help="the chip of records that name none")
@click.option("--volatile", "volatile", multiple=True, metavar="WHAT",
              help="answers (or fields, bytes, sw) allowed to differ: 'GET CHALLENGE', "
                   "'gp:INITIALIZE UPDATE:card_challenge', '84', '80CA:4-8', or 'random'")
@click.option("--skip-redacted", is_flag=True,
              help="skip commands whose data the trace redacted (PINs, keys)")
@click.option("--no-atr-check", is_flag=True, help="do not compare ATRs")
@click.option("--stop-at-first", is_flag=True, help="stop at the first difference")
@trace_option
@json_option
@cli_errors
def replay(trace_file: Path, reader: str | None, chip: int, volatile: tuple[str, ...],
           skip_redacted: bool, no_atr_check: bool, stop_at_first: bool, trace: bool,
           trace_format: str, as_json: bool) -> None:
    """[!] Replay a trace (JSON Lines or --trace's lines) against a card; show what differs."""
    from host.qa.replay import load_trace, parse_volatile, replay_events

    events = load_trace(trace_file, default_chip=chip)
    rules = parse_volatile(volatile)
    chips = tuple(sorted({e.chip for e in events})) or (chip,)
    with _open(reader, chips, trace, trace_format) as link:
        result = replay_events(events, _raw(link.transports), volatile=rules,
                               skip_redacted=skip_redacted, check_atr=not no_atr_check,
                               keep_going=not stop_at_first)
    summary = (f"{result.replayed} commands replayed, {len(result.mismatches)} differ"
               + (f", {len(result.skipped)} redacted skipped" if result.skipped else ""))
    emit({"replayed": result.replayed, "skipped": result.skipped,
          "mismatches": [vars(m) for m in result.mismatches]}, as_json,
         "\n".join([*(str(m) for m in result.mismatches), summary]))
    if not result.ok:
        raise CLIError(summary, ExitCode.CARD_ERROR)
