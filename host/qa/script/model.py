"""What an APDU script is made of: commands (with optional expectations), resets, chip switches."""

from __future__ import annotations

from dataclasses import dataclass

from apdu_specs.hexutil import to_hex
from apdu_specs.sw import describe

from ..patterns import DataPattern, SWPattern

__all__ = ["ChipSwitch", "Command", "Expectation", "Reset", "Script", "Step"]


@dataclass(frozen=True)
class Expectation:
    """The answer a command must get: one of ``sws``, and data matching ``data`` if given."""

    sws: tuple[SWPattern, ...]
    data: DataPattern | None = None

    def problem(self, response: bytes) -> str:
        """Why ``response`` (data ‖ SW) does not meet the expectation; empty when it does."""
        sw = int.from_bytes(response[-2:], "big")
        data = response[:-2]
        if not any(p.matches(sw) for p in self.sws):
            wanted = ", ".join(str(p) for p in self.sws)
            return f"SW {sw:04X} ({describe(sw)}), expected {wanted}"
        if self.data is not None and not self.data.matches(data):
            return f"data {to_hex(data) or '(none)'} does not match {self.data}"
        return ""

    def __str__(self) -> str:
        sws = " ".join(str(p) for p in self.sws)
        sws = sws if len(self.sws) == 1 else f"({sws})"
        return f"{self.data} {sws}" if self.data is not None else sws


@dataclass(frozen=True)
class Command:
    line: int
    apdu: bytes
    expect: Expectation | None = None


@dataclass(frozen=True)
class Reset:
    """Warm reset of the current chip (scriptor's ``reset``)."""

    line: int


@dataclass(frozen=True)
class ChipSwitch:
    """``chip N``: the following commands go to chip N of the dual-chip card."""

    line: int
    chip: int


Step = Command | Reset | ChipSwitch


@dataclass(frozen=True)
class Script:
    source: str
    steps: tuple[Step, ...]

    def chips(self, first: int) -> tuple[int, ...]:
        """The chips the script talks to when it starts on chip ``first``."""
        used = {first} | {s.chip for s in self.steps if isinstance(s, ChipSwitch)}
        return tuple(sorted(used))

    @property
    def has_expectations(self) -> bool:
        return any(isinstance(s, Command) and s.expect is not None for s in self.steps)
