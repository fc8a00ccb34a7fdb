"""Read APDU scripts: pcsc-tools ``scriptor`` style, plus expected answers.

One step per line::

    # comment (also after a command)
    reset                                   warm reset of the current chip
    chip 2                                  following commands go to chip 2
    00 A4 04 00 07 F0000000020101           a command, answer not checked
    805C000204 -> 0000 XX XX 9000           expected data (XX: any byte) and SW
    00B201CC20 -> (9000, 6A83)              any of these SWs, data not checked
    80CA9F7F00 -> 9F7F .. 9000              '..': any number of bytes
    exit                                    stop here (the rest is ignored)

A plain scriptor file is a valid script; its commands are sent and their answers shown.
"""

from __future__ import annotations

import re
from pathlib import Path

from apdu_specs.errors import HexError
from apdu_specs.hexutil import parse_hex

from ...files import read_text
from ..errors import QAError, ScriptSyntaxError
from ..patterns import DataPattern, parse_sw_list, strip_noise
from .model import ChipSwitch, Command, Expectation, Reset, Script, Step

__all__ = ["parse_script", "read_script"]

_ARROW = re.compile(r"->|=>")
_SW_LIST = re.compile(r"\(([^()]*)\)\s*$")
_CHIP = re.compile(r"chip\s+(\S+)", re.IGNORECASE)


def read_script(path: str | Path) -> Script:
    return parse_script(read_text(path), source=str(path))


def parse_script(text: str, *, source: str = "<script>") -> Script:
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word = line.casefold()
        if word in ("exit", "quit"):
            break
        step = _parse_line(line, word, number, source)
        steps.append(step)
    return Script(source, tuple(steps))


def _parse_line(line: str, word: str, number: int, source: str) -> Step:
    if word == "reset":
        return Reset(number)
    chip = _CHIP.fullmatch(line)
    if chip is not None:
        if chip.group(1) not in ("1", "2"):
            raise ScriptSyntaxError(f"chip {chip.group(1)!r}: a dual-chip card has chips 1 and 2",
                                    source=source, line=number)
        return ChipSwitch(number, int(chip.group(1)))
    parts = _ARROW.split(line, maxsplit=1)
    try:
        apdu = parse_hex(parts[0], what="APDU")
    except HexError as exc:
        raise ScriptSyntaxError(str(exc), source=source, line=number) from None
    if len(apdu) < 4:
        raise ScriptSyntaxError(f"APDU of {len(apdu)} bytes: a command has at least CLA INS P1 P2",
                                source=source, line=number)
    expect = None
    if len(parts) == 2:
        try:
            expect = _parse_expectation(parts[1])
        except QAError as exc:
            raise ScriptSyntaxError(str(exc), source=source, line=number) from None
    return Command(number, apdu, expect)


def _parse_expectation(text: str) -> Expectation:
    """``[DATA] SW`` or ``[DATA] (SW, SW…)``."""
    listed = _SW_LIST.search(text)
    if listed is not None:
        sws = parse_sw_list(listed.group(1))
        data_text = strip_noise(text[:listed.start()])
    else:
        cleaned = strip_noise(text)
        if len(cleaned) < 4:
            raise QAError(f"expected answer {text.strip()!r} has no status word "
                          "(write e.g. '-> 9000' or '-> 6F.. (9000, 61XX)')")
        sws = parse_sw_list(cleaned[-4:])
        data_text = cleaned[:-4]
    data = DataPattern.parse(data_text) if data_text else None
    return Expectation(sws, data)
